"""One organization's node: the wiring of its database, log, keys, sequencer and checkpoints.

The HTTP app (accord.node.app) only decodes requests and calls the ``process_*``
functions here; the CLI calls the same functions. A node starts **sealed**: it
serves health, entries, proofs and its public checkpoints, but refuses to append,
sign or decrypt until k key shares unseal it (DESIGN.md section 6).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from accord.encoding import b64encode
from accord.errors import (
    NotFoundError,
    SealedError,
    ShreddedError,
    StoreError,
    UsageError,
    VerificationError,
)
from accord.keys import DataKeys, Progress, Vault, read_keystore
from accord.keys.files import KEYSTORE_FILE
from accord.log import Log
from accord.log.sequencer import Sequencer
from accord.merkle import EMPTY_ROOT
from accord.node.compliance import Compliance
from accord.node.config import NodeConfig, load_config
from accord.node.datakeystore import SqlDataKeyStorage
from accord.node.indexing import NodeIndex
from accord.node.ingest import Prepared, Validator
from accord.node.keyactions import KEY_ACTION_STEPS, KeyActions
from accord.node.keyring import NodeKeys
from accord.node.keyshares import finish_rekey
from accord.node.membership import check_membership, read_consortium
from accord.node.metrics import NodeMetrics
from accord.node.peers import Peers
from accord.node.planner import NodePlanner, Outcome
from accord.node.replicate import Replication
from accord.node.schema import NODE_STEPS
from accord.node.sources import LOG_SOURCE, SourceRegistry
from accord.node.tokens import Tokens
from accord.node.witnessing import Witnessing
from accord.note import Checkpoint, sign_note
from accord.quorum import Consortium, ReplayGuard
from accord.records import (
    Header,
    IndexCommit,
    Principal,
    SignedStatement,
    Statement,
    parse_leaf,
    sign_statement,
)
from accord.store.database import Database
from accord.store.projection import PROJECTION_STEPS, Projector
from accord.store.readonly import ReadOnlySQL

__all__ = ["Node", "now_ms"]

_log = logging.getLogger("accord.node")
#: Format byte of a body stored in the clear (only with ``[keys] encrypt_bodies = false``).
_CLEAR_BODY = b"\x00"


#: Checkpoint-loop rounds (half a checkpoint interval each) between SQLite WAL resets.
_WAL_RESET_ROUNDS: Final = 20


def now_ms() -> int:
    return int(time.time() * 1000)


class Node:
    """A node over a node directory. ``start()`` runs its writer and checkpoint threads."""

    def __init__(
        self,
        directory: Path,
        config: NodeConfig,
        *,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.directory = directory
        self.config = config
        self.org = config.node.org
        self.origin = config.node.origin
        self.clock_ms = clock_ms
        self.db = Database.open(config.database_url(directory))
        self.db.migrate("node", NODE_STEPS)
        self.db.migrate("projection", PROJECTION_STEPS)
        self.log = Log.attach(self.db, origin=self.origin)
        consortium_path = config.consortium_path(directory)
        self.consortium: Consortium | None = None
        if consortium_path is not None:
            self.consortium = read_consortium(consortium_path)
            check_membership(self.consortium, config.node)
        # An interrupted `accord keys init --new-master-key` is finished (or undone) first.
        self.db.migrate("key_actions", KEY_ACTION_STEPS)
        if finish_rekey(directory, self.db) is not None:
            _log.warning("finished an interrupted master-key change in %s", directory)
        self.vault = Vault(read_keystore(directory / KEYSTORE_FILE))
        self.keys: NodeKeys | None = None
        self.tokens = Tokens(self.db)
        self.registry = SourceRegistry(self.db)
        self.datakeys = DataKeys(SqlDataKeyStorage(self.db), self.vault.master_kek, cache_size=4096)
        self.vault.on_seal(self._on_sealed)
        self.encrypt_bodies = config.keys.encrypt_bodies
        if not self.encrypt_bodies:
            _log.warning("[keys] encrypt_bodies = false: new bodies are stored in the clear")
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="accord-verify")
        self.projector = Projector(self._pseudonym)
        self.validator = Validator(
            org=self.org,
            registry=self.registry,
            principal_of=self.principal_of,
            encrypt=self.encrypt_body,
            clock_ms=clock_ms,
            skew_ms=config.policy.skew_ms,
            max_batch=config.policy.max_batch,
            executor=self.executor,
        )
        self.index = NodeIndex(self.db, self.log)
        self.planner = NodePlanner(
            db=self.db,
            projector=self.projector,
            registry=self.registry,
            index=self.index,
            index_key=lambda: self._keys().index_key,
            lateness_ms=config.policy.lateness_ms,
            clock_ms=clock_ms,
            initial_status=self.initial_status,
            last_log_ts=self._last_log_ts(),
            log_size=lambda: self.log.size,
        )
        self.metrics = NodeMetrics()
        self.sequencer = Sequencer(
            self.log,
            self.planner,
            max_batch=config.policy.max_batch,
            on_commit=self.metrics.on_commit,
        )
        self.sql = ReadOnlySQL(
            self.db,
            pseudonym=self._pseudonym,
            pseudonym_key=lambda: self._keys().pseudonym_key,
            max_rows=config.policy.sql_max_rows,
            timeout_ms=config.policy.sql_timeout_ms,
        )
        self.replay_guard = ReplayGuard()
        self.peers: Peers | None = None
        if self.consortium is not None:
            self.peers = Peers(
                self.consortium, self.org, lambda: self._keys().log.ed25519(), clock_ms
            )
        #: Witness for the other members' logs, checkpoint pusher, gossip (docs/witness.md).
        self.witnessing = Witnessing.for_node(self)
        # Quorum replication (docs/replication.md): only in a consortium.
        self.replication: Replication | None = None
        if self.consortium is not None:
            self.replication = Replication(self)
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._sign_lock = threading.Lock()
        self.started_ms = clock_ms()
        # Compliance: Facts index (a planner writer), alerts as records arrive, worklist.
        try:
            self.compliance = Compliance(self)
            self.key_actions = KeyActions(self)
        except BaseException:  # a bad directory.toml or rules.toml: refuse to start
            self.executor.shutdown(wait=False)
            if self.peers is not None:
                self.peers.close()
            self.db.close()
            raise

    @classmethod
    def open(cls, directory: Path | str, **kwargs: Any) -> Node:
        directory = Path(directory)
        return cls(directory, load_config(directory), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.index.start()
        self.sequencer.start()
        if self.keys is not None:
            self._ensure_gateway_source()
        self._stop.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="accord-checkpointer", daemon=True
        )
        self._checkpointer.start()
        self.compliance.start()
        self.witnessing.start()
        if self.replication is not None:
            self.replication.start()

    def stop(self) -> None:
        if self.replication is not None:
            self.replication.stop()
        self.compliance.stop()
        self._stop.set()
        self.witnessing.stop()
        self.sequencer.stop()
        self.index.stop()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
            self._checkpointer = None
        self.executor.shutdown(wait=True)
        if self.peers is not None:
            self.peers.close()
        self.sql.close()
        self.db.close()

    # -- sealing -----------------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self.keys is None

    def _keys(self) -> NodeKeys:
        keys = self.keys
        if keys is None:
            raise SealedError("the node is sealed: unseal it with k key shares (accord unseal)")
        return keys

    def unseal(self, share_text: str) -> Progress:
        """Give one share file; the k-th good share unseals the node."""
        progress = self.vault.submit_share(share_text)
        if not self.vault.sealed and self.keys is None:
            self._on_unsealed()
        return progress

    def unseal_with(self, share_texts: Sequence[str]) -> Progress:
        progress = self.vault.unseal_with(list(share_texts))
        if not self.vault.sealed and self.keys is None:
            self._on_unsealed()
        return progress

    def seal(self) -> None:
        self.vault.seal()

    def _on_sealed(self) -> None:
        self.keys = None
        self.datakeys.forget()

    def _on_unsealed(self) -> None:
        names = self.vault.keystore.names
        self.keys = NodeKeys.from_secrets(self.origin, {n: self.vault.secret(n) for n in names})
        self._ensure_gateway_source()

    def _ensure_gateway_source(self) -> None:
        """Register the node's FHIR gateway source the first time the node is unsealed."""
        keys = self._keys()
        name = self.config.fhir.gateway_source
        raw = keys.gateway.public_key().public_bytes_raw()
        current = self.registry.get(self.org, name)
        if current is not None and current.active and current.raw == raw:
            return
        if self.sequencer_running:
            self.register_source(name, raw)

    @property
    def sequencer_running(self) -> bool:
        return self.sequencer._thread is not None

    # -- helpers -----------------------------------------------------------------------

    def _pseudonym(self, kind: str, value: str) -> str:
        return self._keys().pseudonym(kind, value)

    def principal_of(self, signed: SignedStatement) -> bytes:
        """The data-key principal of a record: its patient's pseudonym (or its org)."""
        for p in signed.statement.principals:
            if p.kind == "patient":
                return bytes.fromhex(self._pseudonym("patient", p.id))
        return b"org\x00" + signed.statement.org.encode("ascii")

    def initial_status(self, prepared: Prepared) -> str:
        """A node alone is its own trust set: its records are final once appended.
        In a consortium, replication decides (pending until certified)."""
        if self.replication is not None:
            return self.replication.initial_status(prepared)
        return "final"

    def _last_log_ts(self) -> int | None:
        size = self.log.size
        if size == 0:
            return None
        leaf = parse_leaf(self.log.entry(size - 1))
        return leaf.log_ts

    # -- appending ---------------------------------------------------------------------

    def _append(self, prepared: list[Prepared]) -> list[Outcome]:
        self._keys()
        outcomes: list[Outcome] = self.sequencer.submit(prepared).result()
        fresh = sum(1 for o in outcomes if not o.duplicate)
        self.metrics.appended.inc(fresh)
        self.metrics.duplicates.inc(len(outcomes) - fresh)
        return outcomes

    def process_submit(self, statements: Any) -> list[Outcome]:
        """Check and append a batch of signed statements from this org's sources."""
        self._keys()
        return self._append(self.validator.prepare_batch(statements))

    def register_source(self, name: str, public_key: bytes) -> Outcome:
        """Append an ``accord.source`` registration signed by the log key."""
        keys = self._keys()
        fields = {"name": name, "public_key": b64encode(public_key), "action": "register"}
        probe = self.registry.get(self.org, name)
        signed = self._make_source_statement(fields, keys)
        SourceRegistry.check_change(signed, probe)
        return self._append([self.validator.prepare(signed, self.org)])[0]

    def revoke_source(self, name: str) -> Outcome:
        keys = self._keys()
        current = self.registry.get(self.org, name)
        if current is None:
            raise NotFoundError(f"source {self.org}/{name} is not registered")
        fields = {"name": name, "public_key": b64encode(current.raw), "action": "revoke"}
        signed = self._make_source_statement(fields, keys)
        SourceRegistry.check_change(signed, current)
        return self._append([self.validator.prepare(signed, self.org)])[0]

    def _make_source_statement(self, fields: dict[str, Any], keys: NodeKeys) -> SignedStatement:
        now = self.clock_ms()
        statement = Statement(
            schema="accord.source",
            id=f"source-{fields['action']}-{fields['name']}-{now}",
            org=self.org,
            source=LOG_SOURCE,
            event_ts=now,
            principals=(Principal("org", self.org),),
            fields=fields,
        )
        return sign_statement(statement, keys.log.ed25519())

    def submit_as_gateway(self, statements: Sequence[Statement]) -> list[Outcome]:
        """Sign statements with the node's FHIR gateway source and append them."""
        keys = self._keys()
        signed = [sign_statement(st, keys.gateway) for st in statements]
        return self._append([self.validator.prepare(s, self.org) for s in signed])

    # -- checkpoints ---------------------------------------------------------------------

    def sign_checkpoint(self) -> str:
        """Sign a checkpoint at the current size if it is newer than the last one."""
        keys = self._keys()
        with self._sign_lock:
            size = self.log.size
            latest = self.log.latest_checkpoint()
            if latest is not None and latest[0] >= size:
                return latest[1]
            note: str = self.log.sign_checkpoint(
                lambda text: sign_note(text, keys.log).format(), size
            )
            return note

    def _checkpoint_loop(self) -> None:
        interval = self.config.policy.checkpoint_interval_ms / 1000
        rounds = 0
        while not self._stop.wait(interval / 2):
            rounds += 1
            if rounds % _WAL_RESET_ROUNDS == 0:
                self._reset_wal()
            if self.keys is None:
                continue
            try:
                self.sign_checkpoint()
            except SealedError:
                continue
            except StoreError:
                _log.exception("checkpoint signing failed; retrying")

    def _reset_wal(self) -> None:
        """SQLite: copy the WAL into the database and empty it. Its automatic checkpoints
        never reset the WAL while some reader is always active (the node's threads), so it
        grew without bound (745 MB after about 100,000 records)."""
        if self.db.dialect != "sqlite":
            return
        try:
            self.db.maintenance("PRAGMA wal_checkpoint(TRUNCATE)")
        except StoreError:
            _log.warning("could not reset the SQLite WAL; retrying later", exc_info=True)

    def checkpoint_note(self) -> str:
        """The latest signed checkpoint (with the cosignatures collected for it)."""
        latest = self.log.latest_checkpoint()
        if latest is None:
            if self.keys is None:
                raise NotFoundError("no checkpoint has been signed yet (the node is sealed)")
            return self.sign_checkpoint()
        return latest[1]

    def checkpoint_at(self, size: int) -> Checkpoint:
        root = self.log.root_hash(size) if size else EMPTY_ROOT
        return Checkpoint(self.origin, size, root)

    # -- reading -----------------------------------------------------------------------

    def record_row(self, record: bytes) -> tuple[int, str, bytes | None]:
        row = self.db.fetchone(
            "SELECT log_index, status, principal FROM records WHERE hash = ?", (record,)
        )
        if row is None:
            raise NotFoundError(f"no record {record.hex()} in this log")
        return int(row[0]), str(row[1]), None if row[2] is None else bytes(row[2])

    def header_at(self, index: int) -> Header | IndexCommit:
        return parse_leaf(self.log.entry(index))

    def encrypt_body(self, principal: bytes, record: bytes, body: bytes) -> bytes:
        """The stored form of a body: encrypted under the principal's current data key
        (or, only with ``[keys] encrypt_bodies = false`` for benchmarks, format 0: clear)."""
        if self.encrypt_bodies:
            return self.datakeys.encrypt(principal, record, body)
        # The principal's data key is still made here, as with encryption on: alerts are
        # encrypted under it, and making it later, beside the writer, would contend.
        self.datakeys.current(principal)
        return _CLEAR_BODY + body

    def decrypt_body(self, principal: bytes, record: bytes, blob: bytes) -> bytes:
        """A stored body read back (ShreddedError once its data key is destroyed)."""
        if blob[:1] == _CLEAR_BODY:
            body = blob[1:]
            if hashlib.sha256(body).digest() != record:
                raise VerificationError("stored body does not hash to the record hash")
            return body
        return self.datakeys.decrypt(principal, record, blob)

    def body(self, record: bytes, principal: bytes) -> bytes:
        """The decrypted body of a record (SealedError while sealed; 410 once shredded)."""
        self._keys()
        row = self.db.fetchone("SELECT blob FROM record_bodies WHERE hash = ?", (record,))
        if row is None:
            raise NotFoundError(f"no body stored for record {record.hex()}")
        return self.decrypt_body(principal, record, bytes(row[0]))

    def process_get_record(self, record: bytes) -> dict[str, Any]:
        index, status, principal = self.record_row(record)
        header = self.header_at(index)
        out: dict[str, Any] = {
            "record": record.hex(),
            "status": status,
            "log_index": index,
            "header": header.to_json(),
        }
        if principal is not None:
            try:
                out["statement"] = SignedStatement.parse(self.body(record, principal)).to_json()
                out["body"] = "present"
            except ShreddedError:
                out["body"] = "shredded"  # the header, proofs and certificate remain
        if self.replication is not None:
            out["certificate"] = self.replication.certificate(record)
        return out

    def process_sql(self, query: str) -> dict[str, Any]:
        """Run an auditor's query read-only over the projection."""
        return self.sql.run(query).to_json()

    def process_health(self) -> dict[str, Any]:
        latest = self.log.latest_checkpoint()
        return {
            "status": "ok",
            "org": self.org,
            "origin": self.origin,
            "sealed": self.sealed,
            "size": self.log.size,
            "checkpoint_size": latest[0] if latest else None,
            "unseal_progress": self.vault.progress.to_json(),
        }

    def process_entries(self, start: int, end: int) -> dict[str, Any]:
        size = self.log.size
        if not 0 <= start < end or end - start > 1000:
            raise UsageError("entries: need 0 <= start < end and at most 1000 entries per call")
        end = min(end, size)
        if start >= end:
            raise NotFoundError(f"the log has {size} entries")
        return {
            "start": start,
            "entries": [e.decode("utf-8") for e in self.log.entries(start, end)],
        }
