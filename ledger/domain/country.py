"""Country codes: ISO 3166-1 alpha-2, the one owner of what a country code is.

Every country a request names (a participant's, a pool's, a VASP's, a trade's
counterparty, the travel rule's addresses and places, the home country and the offshore
jurisdictions of the policy) is checked here, through ``ledger.validation.check_country``
or :func:`is_country_code`. A code must be assigned: ``UK`` (not ISO: ``GB``) or a
user-assigned code such as ``XX`` is refused, so a typo cannot make every domestic trade
look cross-border. ``XK`` (Kosovo) is accepted as well: ISO has not assigned it, but the
European Commission, SWIFT and the IVMS101 travel-rule messages in use do.
"""

from __future__ import annotations

_ASSIGNED = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
"""

ISO_3166_ALPHA_2 = frozenset(_ASSIGNED.split())
"""The 249 officially assigned ISO 3166-1 alpha-2 codes."""

COUNTRY_CODES = ISO_3166_ALPHA_2 | {"XK"}
"""The codes a request may name: the assigned ones and Kosovo's XK."""


def is_country_code(value: object) -> bool:
    """Returns whether ``value`` is a country code the ledger accepts (upper case, as
    ISO writes them)."""
    return isinstance(value, str) and value in COUNTRY_CODES
