"""Modbus TCP server for a PLC: trigger in, ready/busy/result out, in the handshake PLCs usually speak.

Addresses are 0-based protocol addresses (the 1-based "Modicon" numbers in brackets). The PLC writes coils (or
the command word), LLAD writes discrete inputs and input registers; holding registers mirror both for PLCs that
only speak registers. The full map with the handshake is in docs/operator-guide.md, "Connecting to the line".

    coils (PLC -> LLAD)            0 trigger enable (00001), 1 trigger (00002), 2 result ack (00003),
                                   3 reset error (00004)
    discrete inputs (LLAD -> PLC)  0 ready (10001), 1 busy, 2 trigger ack, 3 result valid, 4 pass (OK),
                                   5 fail (NG or UNCERTAIN), 6 error, 7 trigger enabled (10008)
    input registers                0-1 inspection id (uint32, high word first) (30001), 2 score x 1000,
                                   3 verdict code (0 none, 1 OK, 2 NG, 3 UNCERTAIN, 4 ERROR), 4 error code,
                                   5 results waiting for ack, 6 status word (bit i = discrete input i),
                                   7 trigger count (mod 65536)
    holding registers              0 command word (bit i = coil i) (40001), read/write;
                                   1-8 copies of input registers 0-7, read-only

Handshake: trigger enable on -> ready; a rising trigger edge -> trigger ack and busy (ready off); the PLC drops
trigger -> trigger ack off; the result is in the registers -> result valid (and pass/fail), busy off; the PLC
sets result ack -> result valid off; the PLC drops result ack. With ``buffer_results``, results queue until each
one is acknowledged: the next one is shown (result valid again) once the ack is dropped.

Bad writes are answered with a Modbus exception and an error code, and change nothing: an unknown or read-only
address (exception 02), an undefined command bit (03), a trigger while busy (06, the running inspection goes on),
a trigger while trigger enable is off or the result buffer is full (03).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusTcpServer

from .hub import LineBusy, Link
from .payload import VERDICT_CODES, ErrorCode, LineResult

# coils / command word bits
ENABLE, TRIGGER, ACK, RESET = 0, 1, 2, 3
# discrete inputs / status word bits
READY, BUSY, TRIGGER_ACK, RESULT_VALID, PASS, FAIL, ERROR, ENABLED = range(8)
N_COILS, N_INPUTS, N_IREGS = 4, 8, 8
COMMAND_WORD = 0
# function codes by table
_COILS, _INPUTS, _IREGS, _HREGS = (1, 5, 15), (2,), (4,), (3, 6, 16, 22, 23)


class RegisterMap(ModbusServerContext):
    """The server's data: answers reads from LLAD's state and turns the PLC's writes into handshake events.

    Runs on the hub's loop (pymodbus calls it there), so no locking is needed.
    """

    def __init__(self, link: ModbusLink) -> None:  # the base class's data blocks are not used
        self.link = link
        self.old_simulator = True  # tells the pymodbus server to call our async_getValues/async_setValues
        self.simdevices = []
        self.coils = [False] * N_COILS
        self.inputs = [False] * N_INPUTS
        self.iregs = [0] * N_IREGS

    def device_ids(self) -> list[int]:
        return [0]

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        table = self._table(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if count < 1 or address < 0 or address + count > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        return list(table[address : address + count])

    def _table(self, func_code: int) -> list | None:
        if func_code in _COILS:
            return self.coils
        if func_code in _INPUTS:
            return self.inputs
        if func_code in _IREGS:
            return self.iregs
        if func_code in _HREGS:
            return [sum(int(b) << i for i, b in enumerate(self.coils)), *self.iregs]
        return None

    async def async_setValues(self, device_id: int, func_code: int, address: int, values: Sequence) -> ExcCodes | None:
        if func_code in _COILS:
            if address < 0 or address + len(values) > N_COILS:
                return self.link.refuse(ExcCodes.ILLEGAL_ADDRESS, f"no coil at {address}..{address + len(values) - 1}")
            new = list(self.coils)
            new[address : address + len(values)] = [bool(v) for v in values]
        elif func_code in _HREGS:
            if address != COMMAND_WORD or len(values) != 1:
                return self.link.refuse(
                    ExcCodes.ILLEGAL_ADDRESS, f"holding registers {address}.. are read-only (only 0 is writable)"
                )
            word = int(values[0])
            if word >> N_COILS:
                return self.link.refuse(ExcCodes.ILLEGAL_VALUE, f"command word {word:#06x} sets undefined bits")
            new = [bool(word >> i & 1) for i in range(N_COILS)]
        else:
            return self.link.refuse(ExcCodes.ILLEGAL_FUNCTION, f"function {func_code} cannot write")
        return self.link.coils_written(new)


class ModbusLink(Link):
    """Modbus TCP server link; see the module docstring for the register map and the handshake."""

    name = "modbus"

    def __init__(self, hub) -> None:
        super().__init__(hub)
        self.map = RegisterMap(self)
        self.server: ModbusTcpServer | None = None
        self.pending: deque[LineResult] = deque()  # results waiting for the PLC's ack (head is shown)
        self.triggers = 0
        self._shown: LineResult | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.server = ModbusTcpServer(
            self.map, address=(self.config.host, self.config.port), trace_connect=self._connection
        )
        await self.server.serve_forever(background=True)
        port = self.server.transport.sockets[0].getsockname()[1]
        self.port = port
        self.update(status="listening", address=f"{self.config.host}:{port}", error="")
        self._refresh()

    def _connection(self, connected: bool) -> None:
        clients = max(0, self.state.clients + (1 if connected else -1))
        self.update(clients=clients, status="connected" if clients else "listening")
        self.message("PLC connected" if connected else "PLC disconnected")

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None
        while self.pending:
            self.dropped(self.pending.popleft(), "never acknowledged by the PLC before Modbus stopped")

    # ---- writes from the PLC ----------------------------------------------------------------------------
    def refuse(self, code: ExcCodes, why: str, error: ErrorCode = ErrorCode.BAD_WRITE) -> ExcCodes:
        self.map.iregs[4] = int(error)
        self.map.inputs[ERROR] = True
        self._refresh()
        self.message(f"refused: {why}")
        return code

    def coils_written(self, new: list[bool]) -> ExcCodes | None:
        old = self.map.coils
        rising = [n and not o for n, o in zip(new, old)]
        if rising[TRIGGER]:
            refused = self._check_trigger(new[ENABLE])
            if refused is not None:
                return refused
        self.map.coils = new
        if rising[RESET]:
            self.map.iregs[4] = int(ErrorCode.NONE)
            self.map.inputs[ERROR] = self._shown is not None and self._shown.error_code != ErrorCode.NONE
        if not new[TRIGGER]:
            self.map.inputs[TRIGGER_ACK] = False
        if rising[ACK]:
            self._acknowledge()
        if old[ACK] and not new[ACK]:
            self._show_next()
        if rising[TRIGGER]:
            self._start_trigger()
        self._refresh()
        return None

    def _check_trigger(self, enabled: bool) -> ExcCodes | None:
        if self.hub.busy:
            return self.refuse(ExcCodes.DEVICE_BUSY, "trigger while busy", ErrorCode.BUSY)
        if not enabled:
            return self.refuse(ExcCodes.ILLEGAL_VALUE, "trigger while trigger enable is off", ErrorCode.NOT_ENABLED)
        if self.config.buffer_results and len(self.pending) >= self.config.buffer_size:
            return self.refuse(ExcCodes.ILLEGAL_VALUE, "result buffer full: acknowledge first", ErrorCode.BUFFER_FULL)
        return None

    def _start_trigger(self) -> None:
        self.triggers += 1
        self.map.inputs[TRIGGER_ACK] = True
        if not self.config.buffer_results:
            self.map.inputs[RESULT_VALID] = False
        self.message(f"trigger {self.triggers}")
        self._task = asyncio.get_running_loop().create_task(self._run_trigger())

    async def _run_trigger(self) -> None:
        try:
            await self.hub.trigger("modbus")
        except LineBusy:  # another link got in first between the check and the start
            self.refuse(ExcCodes.DEVICE_BUSY, "trigger while busy", ErrorCode.BUSY)

    def _acknowledge(self) -> None:
        self.map.inputs[RESULT_VALID] = False
        if self.config.buffer_results and self.pending:
            self.pending.popleft()
        self.message("result acknowledged")

    def _show_next(self) -> None:
        if self.config.buffer_results and self.pending:
            self._show(self.pending[0])

    # ---- results from the hub ---------------------------------------------------------------------------
    async def publish(self, result: LineResult) -> None:
        if not result.solicited:  # not the answer to a trigger: in the registers only while no answer waits
            if not self.map.inputs[RESULT_VALID]:
                self._registers(result)
                self.message(f"result {result.inspection_id} (not triggered): {result.verdict.value}")
            self.update(sent=self.state.sent + 1)
            return
        if self.config.buffer_results:
            self.pending.append(result)
            if len(self.pending) == 1 and not self.map.coils[ACK]:
                self._show(result)
        else:
            self._show(result)
        self.update(sent=self.state.sent + 1)
        self._refresh()

    def _show(self, result: LineResult) -> None:
        self._shown = result
        self._registers(result)
        d = self.map.inputs
        d[PASS] = result.verdict.value == "OK"
        d[FAIL] = result.verdict.value in ("NG", "UNCERTAIN")
        d[ERROR] = result.error_code != ErrorCode.NONE
        d[RESULT_VALID] = True
        self.message(f"result {result.inspection_id}: {result.verdict.value} score {result.score:.3f}")

    def _registers(self, result: LineResult) -> None:
        i = self.map.iregs
        i[0], i[1] = result.inspection_id >> 16 & 0xFFFF, result.inspection_id & 0xFFFF
        i[2] = result.score_x1000
        i[3] = VERDICT_CODES.get(result.verdict.value, 0)
        i[4] = int(result.error_code)

    async def status_changed(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        d, c = self.map.inputs, self.map.coils
        full = self.config.buffer_results and len(self.pending) >= self.config.buffer_size
        d[BUSY] = self.hub.busy
        d[ENABLED] = c[ENABLE]
        d[READY] = c[ENABLE] and self.hub.ready and not full
        i = self.map.iregs
        i[5] = len(self.pending)
        i[6] = sum(int(b) << k for k, b in enumerate(d))
        i[7] = self.triggers & 0xFFFF
