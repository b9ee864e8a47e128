"""Drives a real `confide server --secure-agg` with one misbehaving Python client, to see how the server treats
malformed or dishonest SecAgg messages from a foreign client (protos/confide.proto, rpc SecAgg: "Refusals").

Three Python clients run one secure round. Two are honest (secagg_client.run_secure_round). The third, at every
stage, first sends one or more bad variants of its message (each must be refused with the documented status and
leave the round intact), then the honest message; the round must still complete with all three in the sum.

Usage: PYTHONPATH=GEN:clients/python python3 clients/python/secagg_probe.py --confide "dotnet out/confide.dll"
(GEN holds the classes protoc generated from protos/confide.proto). Run by .ci/interop-python.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import threading

import grpc

import confide_client as cc
import confide_pb2 as pb
from interop_check import Server, check, initial_model, new_client, next_train_task, run_all

import secagg_client as sa

results: list[str] = []
errors: list[str] = []


def expect(wire: sa.SecAggWire, request: pb.SecAggRequest, code: grpc.StatusCode, what: str) -> None:
    """Sends once (no retry) and expects a refusal with `code`."""
    try:
        wire.send(request, retry=False)
    except grpc.RpcError as e:
        results.append(f"{'ok  ' if e.code() == code else 'DIFF'} {what}: {e.code().name}: {e.details()}")
        if e.code() != code:
            errors.append(f"{what}: expected {code.name}, got {e.code().name}")
        return
    results.append(f"DIFF {what}: accepted")
    errors.append(f"{what}: the server accepted it")


def mallory(client: cc.ConfideClient) -> None:
    """The misbehaving participant."""
    try:
        last = -1
        while (task := next_train_task(client, last, secure=True)) is not None:
            model = cc.read_safetensors(client.fetch_model(task.round, task.model_bytes)).flat()
            setup = sa.Setup.from_proto(task.secure_aggregation, task.round, client.client_id)
            x = sa.quantize([0.01] * len(model), 2, setup.clip_range, setup.scale, setup.modulus_bits)
            p = sa.SecAggParticipant(setup, client.key, x)
            wire = sa.SecAggWire(client)
            sid, r = setup.session_id, setup.round
            req = lambda **stage: pb.SecAggRequest(round=r, session_id=sid, **stage)

            expect(wire, pb.SecAggRequest(round=r, session_id="round-x-" + "0" * 32, poll=pb.SecAggPoll()),
                   grpc.StatusCode.FAILED_PRECONDITION, "a poll for another session")
            expect(wire, pb.SecAggRequest(round=r + 1, session_id=sid, poll=pb.SecAggPoll()),
                   grpc.StatusCode.FAILED_PRECONDITION, "a poll for another round")
            expect(wire, req(), grpc.StatusCode.INVALID_ARGUMENT, "a request without a stage")
            good = p.advertise_keys()
            forged = pb.AdvertiseKeys(); forged.CopyFrom(good); forged.signature = bytes(64)
            expect(wire, req(advertise_keys=forged), grpc.StatusCode.INVALID_ARGUMENT, "AdvertiseKeys with a forged signature")
            short = pb.AdvertiseKeys(); short.CopyFrom(good); short.mask_public_key = bytes(31)
            expect(wire, req(advertise_keys=short), grpc.StatusCode.INVALID_ARGUMENT, "AdvertiseKeys with a 31-byte key")
            low = pb.AdvertiseKeys(); low.CopyFrom(good); low.encryption_public_key = bytes(32)
            low.signature = client.key.sign(sa.purpose_framed(sa.ADVERTISE_PURPOSE, sa.advertise_payload(
                sid, r, setup.me, low.encryption_public_key, low.mask_public_key)))
            # Signed, so only the key itself is wrong: its shared secret with anyone is all zeros.
            expect(wire, req(advertise_keys=low), grpc.StatusCode.INVALID_ARGUMENT, "AdvertiseKeys with a signed low-order X25519 key")
            expect(wire, req(masked_input=pb.MaskedInput(masked=bytes(4 * setup.dimension))), grpc.StatusCode.FAILED_PRECONDITION,
                   "MaskedInput during AdvertiseKeys (out of stage)")
            response = wire.send(req(advertise_keys=good))
            # A redelivery (the answer was lost) after the stage closed (at once, when the last expected message
            # arrived) is a duplicate: ALREADY_EXISTS, after which the client polls.
            expect(wire, req(advertise_keys=good), grpc.StatusCode.ALREADY_EXISTS,
                   "AdvertiseKeys redelivered (its answer lost) after the stage closed")

            def next_input(response: pb.SecAggResponse) -> pb.SecAggResponse:
                while response.WhichOneof("next") is None and not response.outcome:
                    response = wire.send(sa.poll_request(r, sid), timeout=40)
                return response

            response = next_input(response)
            shares = p.share_keys(response.keys_broadcast)
            me = setup.roster[setup.me]
            to_self = pb.ShareKeys(); to_self.CopyFrom(shares); to_self.shares[0].to_client_id = me
            expect(wire, req(share_keys=to_self), grpc.StatusCode.INVALID_ARGUMENT, "ShareKeys with a bundle addressed to the sender")
            missing = pb.ShareKeys(); missing.shares.append(shares.shares[0])
            expect(wire, req(share_keys=missing), grpc.StatusCode.INVALID_ARGUMENT, "ShareKeys missing a neighbour's bundle")
            empty = pb.ShareKeys(); empty.CopyFrom(shares); empty.shares[0].ciphertext = b""
            expect(wire, req(share_keys=empty), grpc.StatusCode.INVALID_ARGUMENT, "ShareKeys with an empty ciphertext")
            response = next_input(wire.send(req(share_keys=shares)))

            masked = p.masked_input(response.shares_delivery)
            expect(wire, req(masked_input=pb.MaskedInput(masked=masked.masked[:-4])), grpc.StatusCode.INVALID_ARGUMENT,
                   "MaskedInput one word short")
            response = next_input(wire.send(req(masked_input=masked)))

            signature = p.consistency_signature(response.survivor_list)
            wrong = sa.survivor_payload(sid, r, [setup.me])
            expect(wire, req(consistency_signature=pb.ConsistencySignature(signature=client.key.sign(sa.purpose_framed(sa.SURVIVORS_PURPOSE, wrong)))),
                   grpc.StatusCode.INVALID_ARGUMENT, "ConsistencySignature over another survivor list")
            response = next_input(wire.send(req(consistency_signature=signature)))

            unmask = p.unmasking_response(response.unmasking_request)
            own = next(e for e in unmask.self_mask_shares if e.owner_client_id == me)
            other = next(e for e in unmask.self_mask_shares if e.owner_client_id != me)
            both = pb.UnmaskingResponse()  # within the count limit: own, other (self-mask) and other (mask key)
            both.self_mask_shares.append(own); both.self_mask_shares.append(other)
            both.mask_key_shares.add(owner_client_id=other.owner_client_id, share=other.share)
            expect(wire, req(unmasking_response=both), grpc.StatusCode.INVALID_ARGUMENT, "UnmaskingResponse with both shares of one survivor")
            twice = pb.UnmaskingResponse(); twice.CopyFrom(unmask); twice.self_mask_shares.append(unmask.self_mask_shares[0])
            expect(wire, req(unmasking_response=twice), grpc.StatusCode.INVALID_ARGUMENT, "UnmaskingResponse revealing one share twice")
            response = wire.send(req(unmasking_response=unmask))
            results.append(f"     mallory's honest UnmaskingResponse answered: outcome '{response.outcome}'")
            last = task.round
    except Exception as e:
        errors.append(f"mallory: {type(e).__name__}: {e}")


def honest(client: cc.ConfideClient, outcomes: list[str]) -> None:
    try:
        last = -1
        while (task := next_train_task(client, last, secure=True)) is not None:
            model = cc.read_safetensors(client.fetch_model(task.round, task.model_bytes)).flat()
            res = sa.run_secure_round(client, task, [0.01] * len(model), 3)
            outcomes.append(f"{res.outcome}: {res.detail}")
            last = task.round
    except Exception as e:
        errors.append(f"honest: {type(e).__name__}: {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--confide", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="secagg-probe-") as folder:
        probe(shlex.split(args.confide), folder)
    print("probe passed: every bad message was refused and the round completed with all three")
    return 0


def probe(confide: list[str], folder: str) -> None:
    initial = initial_model(folder, {"w": [3, 4]})
    with Server(confide, folder, ["--secure-agg", "--rounds", "1", "--clients-per-round", "3",
                                  "--deadline", "60", "--stage-deadline", "30", "--initial-model", initial], tokens=3) as server:
        outcomes: list[str] = []
        clients = [new_client(server, server.tokens[i], f"probe{i}") for i in range(3)]
        threads = [threading.Thread(target=mallory, args=(clients[0],))] + [
            threading.Thread(target=honest, args=(c, outcomes)) for c in clients[1:]]
        try:
            run_all(threads, errors, "probe", timeout=200)
        finally:
            for line in results:
                print("  " + line)
            print(f"  honest clients: {outcomes}")
        check(outcomes and all(o.startswith("completed") for o in outcomes), f"honest outcomes {outcomes}")
    stored = server.submissions()
    print(f"  state.db: {stored}")
    check(len(stored) == 3 and all(s == "accepted" for _, _, s, _ in stored), "not all three in the sum")


if __name__ == "__main__":
    sys.exit(main())
