import json

from py_kernels import bridge


def test_invoke_returns_result_json():
    reply = json.loads(bridge.invoke("bridge:echo_float", json.dumps({"text": "2.5"})))
    assert reply == {"ok": True, "result": {"value": 2.5}}


def test_invoke_encodes_nonfinite():
    reply = json.loads(bridge.invoke("bridge:echo_float", json.dumps({"text": "inf"})))
    assert reply["result"]["value"] == {"$float": "inf"}


def test_invoke_reports_error_type():
    reply = json.loads(bridge.invoke("bridge:echo_float", json.dumps({"text": "x"})))
    assert reply["ok"] is False
    assert reply["type"] == "ValueError"
    assert "could not convert" in reply["message"]


def test_invoke_rejects_unmarked_function():
    reply = json.loads(bridge.invoke("bridge:resolve_entry", json.dumps({"entry": "a:b"})))
    assert reply["ok"] is False
    assert "not a backend entry point" in reply["message"]
