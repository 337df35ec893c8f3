"""LicensingService: participants, signing keys and licences."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import grpc

from ledger import (
    ExchangeLicence,
    Licence,
    MiningLicence,
    Participant,
    Receipt,
    Vasp,
    hashrate_cap_ths,
)
from services import wire
from services.auth import Scope, current_grant, current_requester, require_own_participant
from services.generated.valedger.v1 import common_pb2, licensing_pb2, licensing_pb2_grpc
from services.ledger_pool import LedgerPool
from services.status import invalid_argument

_KINDS = {
    common_pb2.PARTICIPANT_KIND_ENTERPRISE: "ENTERPRISE",
    common_pb2.PARTICIPANT_KIND_INDIVIDUAL: "INDIVIDUAL",
}
_MODES = {
    licensing_pb2.MINING_MODE_UNSPECIFIED: "SOLO",
    licensing_pb2.MINING_MODE_SOLO: "SOLO",
    licensing_pb2.MINING_MODE_POOL: "POOL",
}
_STATUS = {
    "ACTIVE": licensing_pb2.LICENCE_STATUS_ACTIVE,
    "SUSPENDED": licensing_pb2.LICENCE_STATUS_SUSPENDED,
    "REVOKED": licensing_pb2.LICENCE_STATUS_REVOKED,
    "EXPIRED": licensing_pb2.LICENCE_STATUS_EXPIRED,
    "PENDING": licensing_pb2.LICENCE_STATUS_PENDING,
}


def receipt(value: Receipt) -> common_pb2.Receipt:
    """Returns the wire form of a ledger receipt."""
    return common_pb2.Receipt(aggregate_id=str(value.aggregate_id), version=value.version,
                              replayed=value.replayed)


def participant_message(p: Participant, at: datetime) -> licensing_pb2.Participant:
    """Returns the wire form of a participant as it stands at ``at``."""
    if p.deregistered_at is not None and at >= p.deregistered_at:
        status = "DEREGISTERED"
    elif p.approved_at is None or at < p.approved_at:
        status = "REGISTERED"
    elif p.suspensions.covering(at) is not None:
        status = "SUSPENDED"
    else:
        status = "APPROVED"
    kind = {v: k for k, v in _KINDS.items()}[p.kind.value]
    return licensing_pb2.Participant(
        participant_id=str(p.id), kind=kind, legal_name=p.legal_name, tax_id=p.tax_id,
        country=p.country, beneficial_owners=p.beneficial_owners,
        offshore_links=p.offshore_links, status=status, version=p.version,
        keys=[licensing_pb2.SigningKey(key_id=k.key_id, public_key=k.public_key,
                                       revoked=k.revoked_at is not None and k.revoked_at <= at)
              for k in p.keys.values()])


def licence_message(licence: Licence, at: datetime) -> licensing_pb2.Licence:
    """Returns the wire form of a licence as it stands at ``at``."""
    message = licensing_pb2.Licence(
        licence_id=str(licence.id), participant_id=str(licence.participant_id),
        status=_STATUS.get(licence.status_at(at), licensing_pb2.LICENCE_STATUS_UNSPECIFIED),
        valid_from=wire.timestamp(licence.valid_from),
        valid_until=wire.timestamp(licence.valid_until),
        status_reason=licence.revocation_reason or _suspension_reason(licence),
        version=licence.version,
        renewal_of=str(licence.renewal_of or ""),
        renewed_by=str(licence.renewed_by or ""))
    if isinstance(licence, MiningLicence):
        message.kind = licensing_pb2.LICENCE_KIND_MINING
        capacity = licence.capacity_at(at)
        message.mining.CopyFrom(licensing_pb2.MiningTerms(
            site=licensing_pb2.Site(region=licence.region, grid_zone=licence.grid_zone,
                                    meter_id=licence.meter_id),
            licensed_power_mw=str(capacity.power_mw),
            declared_efficiency_j_per_th=str(capacity.efficiency_jth),
            hashrate_cap_th_per_s=str(hashrate_cap_ths(capacity.power_mw,
                                                       capacity.efficiency_jth)),
            coinbase_tags=[bytes.fromhex(t) for t in licence.coinbase_tags],
            mode=(licensing_pb2.MINING_MODE_POOL if licence.mode == "POOL"
                  else licensing_pb2.MINING_MODE_SOLO),
            pool_id="" if licence.pool_id is None else str(licence.pool_id)))
    elif isinstance(licence, ExchangeLicence):
        message.kind = licensing_pb2.LICENCE_KIND_EXCHANGE
        message.exchange.CopyFrom(licensing_pb2.ExchangeTerms(services=licence.services))
    return message


def vasp_message(vasp: Vasp, at: datetime) -> licensing_pb2.Vasp:
    """Returns the wire form of a VASP as it stands at ``at``."""
    return licensing_pb2.Vasp(
        vasp_id=str(vasp.id), name=vasp.name, country=vasp.country,
        licence_id=str(vasp.licence_id or ""), foreign_registration=vasp.foreign_registration,
        travel_rule_endpoint=vasp.travel_rule_endpoint,
        registered_at=wire.timestamp(vasp.registered_at),
        suspended=vasp.suspensions.covering(at) is not None, version=vasp.version)


def _suspension_reason(licence: Licence) -> str:
    return str(getattr(licence, "suspension_reason", "") or "")


def _at(request: Any) -> datetime | None:
    return wire.time(request, "at")


class LicensingServicer(licensing_pb2_grpc.LicensingServiceServicer):
    """Serves LicensingService over the ledger."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.ledger = backend.ledger

    async def RegisterParticipant(self, request: licensing_pb2.RegisterParticipantRequest,
                                  context: Any) -> licensing_pb2.RegisterParticipantResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise invalid_argument("kind", "must be ENTERPRISE or INDIVIDUAL")
        result = await self.backend.run(
            self.ledger.register_participant, request.request_id, kind, request.legal_name,
            request.tax_id, request.country, list(request.beneficial_owners),
            list(request.offshore_links), at=_at(request))
        return licensing_pb2.RegisterParticipantResponse(receipt=receipt(result))

    async def ApproveParticipant(self, request: licensing_pb2.ApproveParticipantRequest,
                                 context: Any) -> licensing_pb2.ApproveParticipantResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        result = await self.backend.run(self.ledger.approve_participant, request.request_id,
                                        participant_id, at=_at(request))
        return licensing_pb2.ApproveParticipantResponse(receipt=receipt(result))

    async def RegisterKey(self, request: licensing_pb2.RegisterKeyRequest,
                          context: Any) -> licensing_pb2.RegisterKeyResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        require_own_participant(str(participant_id), "participant's keys")
        if len(request.key_id) > 64:
            raise invalid_argument("key_id", "at most 64 characters")
        result = await self.backend.run(
            self.ledger.register_key, request.request_id, participant_id, request.key_id,
            bytes(request.public_key), at=_at(request), requester=current_requester())
        return licensing_pb2.RegisterKeyResponse(receipt=receipt(result))

    async def RevokeKey(self, request: licensing_pb2.RevokeKeyRequest,
                        context: Any) -> licensing_pb2.RevokeKeyResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        require_own_participant(str(participant_id), "participant's keys")
        result = await self.backend.run(self.ledger.revoke_key, request.request_id,
                                        participant_id, request.key_id,
                                        at=_at(request), requester=current_requester())
        return licensing_pb2.RevokeKeyResponse(receipt=receipt(result))

    async def GetParticipant(self, request: licensing_pb2.GetParticipantRequest,
                             context: Any) -> licensing_pb2.GetParticipantResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        require_own_participant(str(participant_id))
        participant = await self.backend.run(self.ledger.get_participant, participant_id)
        return licensing_pb2.GetParticipantResponse(
            participant=participant_message(participant, self.ledger.clock()))

    async def GrantMiningLicence(self, request: licensing_pb2.GrantMiningLicenceRequest,
                                 context: Any) -> licensing_pb2.GrantMiningLicenceResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        at = _at(request)
        valid_from = wire.time(request, "valid_from") or at or self.ledger.clock()
        result = await self.backend.run(
            self.ledger.grant_mining_licence, request.request_id, participant_id,
            request.site.region, request.site.grid_zone, request.site.meter_id,
            request.licensed_power_mw, request.declared_efficiency_j_per_th,
            [bytes(t).hex() for t in request.coinbase_tags], valid_from,
            wire.required_time(request, "valid_until"), at=at,
            mode=_MODES.get(request.mode, "INVALID"),
            pool_id=wire.uuid(request.pool_id, "pool_id") if request.pool_id else None)
        return licensing_pb2.GrantMiningLicenceResponse(receipt=receipt(result))

    async def AmendMiningCapacity(self, request: licensing_pb2.AmendMiningCapacityRequest,
                                  context: Any) -> licensing_pb2.AmendMiningCapacityResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        power: Decimal | str = request.licensed_power_mw
        efficiency: Decimal | str = request.declared_efficiency_j_per_th
        if not efficiency:
            licence = await self.backend.run(self.ledger.get_mining_licence, licence_id)
            efficiency = licence.efficiency_jth
        result = await self.backend.run(
            self.ledger.amend_mining_capacity, request.request_id, licence_id, power,
            efficiency, effective_from=wire.time(request, "effective_from"), at=_at(request))
        return licensing_pb2.AmendMiningCapacityResponse(receipt=receipt(result))

    async def GrantExchangeLicence(self, request: licensing_pb2.GrantExchangeLicenceRequest,
                                   context: Any) -> licensing_pb2.GrantExchangeLicenceResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        at = _at(request)
        result = await self.backend.run(
            self.ledger.grant_exchange_licence, request.request_id, participant_id,
            list(request.services), wire.time(request, "valid_from") or at or self.ledger.clock(),
            wire.required_time(request, "valid_until"), at=at)
        return licensing_pb2.GrantExchangeLicenceResponse(receipt=receipt(result))

    async def SuspendParticipant(self, request: licensing_pb2.SuspendParticipantRequest,
                                 context: Any) -> licensing_pb2.SuspendParticipantResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        result = await self.backend.run(
            self.ledger.suspend_participant, request.request_id, participant_id,
            request.reason, until=wire.time(request, "until"), at=_at(request))
        return licensing_pb2.SuspendParticipantResponse(receipt=receipt(result))

    async def ReinstateParticipant(self, request: licensing_pb2.ReinstateParticipantRequest,
                                   context: Any) -> licensing_pb2.ReinstateParticipantResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        result = await self.backend.run(self.ledger.reinstate_participant, request.request_id,
                                        participant_id, at=_at(request))
        return licensing_pb2.ReinstateParticipantResponse(receipt=receipt(result))

    async def DeregisterParticipant(
            self, request: licensing_pb2.DeregisterParticipantRequest,
            context: Any) -> licensing_pb2.DeregisterParticipantResponse:
        participant_id = wire.uuid(request.participant_id, "participant_id")
        result = await self.backend.run(self.ledger.deregister_participant,
                                        request.request_id, participant_id, request.reason,
                                        at=_at(request))
        return licensing_pb2.DeregisterParticipantResponse(receipt=receipt(result))

    async def SuspendLicence(self, request: licensing_pb2.SuspendLicenceRequest,
                             context: Any) -> licensing_pb2.SuspendLicenceResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        result = await self.backend.run(
            self.ledger.suspend_licence, request.request_id, licence_id, request.reason,
            until=wire.time(request, "until"), at=_at(request))
        return licensing_pb2.SuspendLicenceResponse(receipt=receipt(result))

    async def ReinstateLicence(self, request: licensing_pb2.ReinstateLicenceRequest,
                               context: Any) -> licensing_pb2.ReinstateLicenceResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        result = await self.backend.run(self.ledger.reinstate_licence, request.request_id,
                                        licence_id, at=_at(request))
        return licensing_pb2.ReinstateLicenceResponse(receipt=receipt(result))

    async def RevokeLicence(self, request: licensing_pb2.RevokeLicenceRequest,
                            context: Any) -> licensing_pb2.RevokeLicenceResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        result = await self.backend.run(self.ledger.revoke_licence, request.request_id,
                                        licence_id, request.reason, at=_at(request))
        return licensing_pb2.RevokeLicenceResponse(receipt=receipt(result))

    async def RenewLicence(self, request: licensing_pb2.RenewLicenceRequest,
                           context: Any) -> licensing_pb2.RenewLicenceResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        result = await self.backend.run(
            self.ledger.renew_licence, request.request_id, licence_id,
            wire.required_time(request, "valid_until"), at=_at(request))
        return licensing_pb2.RenewLicenceResponse(receipt=receipt(result))

    async def GetLicence(self, request: licensing_pb2.GetLicenceRequest,
                         context: Any) -> licensing_pb2.GetLicenceResponse:
        licence_id = wire.uuid(request.licence_id, "licence_id")
        licence = await self.backend.run(self.ledger.get_licence, licence_id)
        require_own_participant(str(licence.participant_id), "licences")
        return licensing_pb2.GetLicenceResponse(
            licence=licence_message(licence, self.ledger.clock()))

    async def ListLicences(self, request: licensing_pb2.ListLicencesRequest,
                           context: Any) -> licensing_pb2.ListLicencesResponse:
        grant = current_grant()
        participant = request.participant_id
        if grant.scope is Scope.OWN:
            participant = participant or grant.caller.participant
            require_own_participant(participant, "licences")
        participant_id = wire.optional_uuid(participant, "participant_id")
        size = wire.page_size(request.page_size)
        filters = {"p": participant, "k": int(request.kind), "s": int(request.status)}
        offset = 0
        if request.page_token:
            token = wire.decode_token(request.page_token)
            if token.get("f") != filters or not isinstance(token.get("o"), int):
                raise invalid_argument("page_token", "does not match this request's filters")
            offset = int(token["o"])
        kinds: dict[int, type[Licence]] = {
            licensing_pb2.LICENCE_KIND_MINING: MiningLicence,
            licensing_pb2.LICENCE_KIND_EXCHANGE: ExchangeLicence,
        }
        kind = kinds.get(request.kind, Licence)
        licences = await self.backend.run(self.ledger.list_licences, participant_id, kind)
        now = self.ledger.clock()
        messages = [licence_message(licence, now) for licence in licences]
        if request.status:
            messages = [m for m in messages if m.status == request.status]
        page = messages[offset:offset + size]
        next_token = ""
        if offset + size < len(messages):
            next_token = wire.encode_token({"f": filters, "o": offset + size})
        return licensing_pb2.ListLicencesResponse(licences=page, next_page_token=next_token)

    async def RegisterVasp(self, request: licensing_pb2.RegisterVaspRequest,
                           context: Any) -> licensing_pb2.RegisterVaspResponse:
        licence_id = wire.optional_uuid(request.licence_id, "licence_id")
        result = await self.backend.run(
            self.ledger.register_vasp, request.request_id, request.name, request.country,
            licence_id, request.foreign_registration, request.travel_rule_endpoint,
            at=_at(request))
        return licensing_pb2.RegisterVaspResponse(receipt=receipt(result))

    async def SuspendVasp(self, request: licensing_pb2.SuspendVaspRequest,
                          context: Any) -> licensing_pb2.SuspendVaspResponse:
        vasp_id = wire.uuid(request.vasp_id, "vasp_id")
        result = await self.backend.run(self.ledger.suspend_vasp, request.request_id, vasp_id,
                                        request.reason, at=_at(request))
        return licensing_pb2.SuspendVaspResponse(receipt=receipt(result))

    async def ListVasps(self, request: licensing_pb2.ListVaspsRequest,
                        context: Any) -> licensing_pb2.ListVaspsResponse:
        size = wire.page_size(request.page_size)
        filters = {"c": request.country}
        offset = 0
        if request.page_token:
            token = wire.decode_token(request.page_token)
            if token.get("f") != filters or not isinstance(token.get("o"), int):
                raise invalid_argument("page_token", "does not match this request's filters")
            offset = int(token["o"])
        vasps = await self.backend.run(self.ledger.list_vasps, request.country or None)
        now = self.ledger.clock()
        page = vasps[offset:offset + size]
        next_token = ""
        if offset + size < len(vasps):
            next_token = wire.encode_token({"f": filters, "o": offset + size})
        return licensing_pb2.ListVaspsResponse(vasps=[vasp_message(v, now) for v in page],
                                               next_page_token=next_token)


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    licensing_pb2_grpc.add_LicensingServiceServicer_to_server(LicensingServicer(backend), server)
