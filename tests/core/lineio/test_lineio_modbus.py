"""The Modbus TCP link against a pymodbus client acting as the PLC: the full handshake for an OK and an NG part,
result buffering until acknowledged, and bad writes answered with an exception and an error code."""

from __future__ import annotations

import threading

from core.lineio import ErrorCode
from core.lineio.modbus import ACK, BUSY, ENABLE, ERROR, FAIL, PASS, READY, RESULT_VALID, TRIGGER
from core.lineio.payload import VERDICT_CODES
from core.sources.folder import FileListSource
from core.types import Verdict
from tests.core.lineio.support import Line, Plc, handshake, modbus_config, wait_for


def test_full_handshake_ok_then_ng(line_predictor, parts, line_log):
    config = modbus_config()
    with Line(config, line_predictor, [parts["ok"], parts["ng"]], line_log) as line:
        plc = Plc(config.modbus.port)
        try:
            assert not plc.inputs()[READY], "ready before trigger enable"
            plc.coil(ENABLE, True)
            for expected in (Verdict.OK, Verdict.NG):
                inputs, regs = handshake(plc)
                row = line_log.get(regs[0] << 16 | regs[1])
                assert row is not None and row.verdict is expected
                assert inputs[PASS] == (expected is Verdict.OK) and inputs[FAIL] == (expected is Verdict.NG)
                assert regs[3] == VERDICT_CODES[expected.value] and regs[4] == ErrorCode.NONE
                assert regs[2] == min(65535, max(0, round(row.score * 1000)))
                assert row.image_ref.endswith(parts["ok" if expected is Verdict.OK else "ng"].name)
            assert regs[7] == 2  # trigger count
            assert line.hub.states()["modbus"].clients == 1
        finally:
            plc.close()
    assert line_log.count() == 2


def test_results_buffered_until_acknowledged(line_predictor, parts, line_log):
    config = modbus_config(buffer=True)
    with Line(config, line_predictor, [parts["ng"], parts["ok"]], line_log):
        plc = Plc(config.modbus.port)
        try:
            plc.coil(ENABLE, True)
            ids = []
            for _ in range(2):  # two parts inspected before the PLC reads anything
                wait_for(lambda: plc.inputs()[READY], what="ready")
                plc.coil(TRIGGER, True)
                plc.coil(TRIGGER, False)
                wait_for(lambda: not plc.inputs()[1], what="not busy")
            assert plc.registers()[5] == 2 and not plc.inputs()[READY], "buffer (size 2) full: not ready"
            refused = plc.coil(TRIGGER, True)
            assert refused.isError() and refused.exception_code == 3
            assert plc.registers()[4] == ErrorCode.BUFFER_FULL
            plc.coil(TRIGGER, False)
            for verdict in (Verdict.NG, Verdict.OK):  # oldest first, each shown until acknowledged
                inputs = wait_for(lambda: (i := plc.inputs())[RESULT_VALID] and i, what="result valid")
                assert inputs[FAIL if verdict is Verdict.NG else PASS]
                ids.append(plc.inspection_id())
                plc.coil(ACK, True)
                plc.coil(ACK, False)
            assert plc.registers()[5] == 0 and not plc.inputs()[RESULT_VALID]
            assert [line_log.get(i).verdict for i in ids] == [Verdict.NG, Verdict.OK]
        finally:
            plc.close()


def test_bad_writes_are_refused_and_change_nothing(line_predictor, parts, line_log):
    config = modbus_config()
    with Line(config, line_predictor, [parts["ok"]], line_log):
        plc = Plc(config.modbus.port)
        try:
            r = plc.coil(TRIGGER, True)  # trigger enable is off
            assert r.isError() and r.exception_code == 3
            assert plc.registers()[4] == ErrorCode.NOT_ENABLED and plc.inputs()[ERROR]
            assert not plc.client.read_coils(0, count=4).bits[TRIGGER]
            r = plc.client.write_coil(9, True)  # no such coil
            assert r.isError() and r.exception_code == 2
            r = plc.client.write_register(3, 7)  # a read-only copy of an input register
            assert r.isError() and r.exception_code == 2
            r = plc.client.write_register(0, 0x00F0)  # undefined command bits
            assert r.isError() and r.exception_code == 3
            assert plc.registers()[4] == ErrorCode.BAD_WRITE
            r = plc.client.read_input_registers(6, count=5)  # past the end of the map
            assert r.isError() and r.exception_code == 2
            assert plc.client.read_coils(0, count=4).bits[:4] == [False] * 4
            plc.client.write_register(0, 1 << 3)  # reset error through the command word
            assert plc.registers()[4] == ErrorCode.NONE and not plc.inputs()[ERROR]
            assert line_log.count() == 0
        finally:
            plc.close()


def test_trigger_while_busy_is_refused_and_the_running_one_completes(line_predictor, parts, line_log):
    config = modbus_config()
    part_arrives = threading.Event()  # the camera's exposure waits for the part: the inspection stays busy
    source = FileListSource([parts["ng"]])
    source.open()

    def acquire():
        assert part_arrives.wait(30)
        return source.read()

    with Line(config, line_predictor, [], line_log, acquire=acquire):
        plc = Plc(config.modbus.port)
        try:
            plc.client.write_register(0, 1 << ENABLE)
            plc.coil(TRIGGER, True)
            plc.coil(TRIGGER, False)
            assert plc.inputs()[BUSY]
            r = plc.coil(TRIGGER, True)
            assert r.isError() and r.exception_code == 6
            assert plc.registers()[4] == ErrorCode.BUSY
            assert not plc.client.read_coils(0, count=4).bits[TRIGGER]
            part_arrives.set()
            inputs = wait_for(lambda: (i := plc.inputs())[RESULT_VALID] and i, what="result valid")
            assert inputs[FAIL] and plc.registers()[3] == VERDICT_CODES["NG"]
            assert plc.registers()[4] == ErrorCode.NONE  # the result's own code replaces the refusal's
        finally:
            plc.close()
            source.close()
    assert line_log.count() == 1
