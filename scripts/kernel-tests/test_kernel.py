"""The Joule kernel against the official jupyter_kernel_test suite, plus what the suite does not
cover: signatures, interrupts, stdin, completion of the joule module, documentation."""
import hashlib
import hmac
import json
import time
import unittest
import uuid

import jupyter_kernel_test as jkt
import zmq
from jupyter_client.manager import start_new_kernel

TIMEOUT = 60


class JouleKernelTests(jkt.KernelTests):
    kernel_name = "joule"
    language_name = "lua"
    file_extension = ".lua"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'io.stderr:write("oops\\n")'

    completion_samples = [
        {"text": "joule.ebm.SG", "matches": {"SGLD"}},
        {"text": "joule.tensor.ra", "matches": {"rand", "randn"}},
        {"text": "pri", "matches": {"print"}},
    ]

    complete_code_samples = ["x = 1", "print('hi')", "for i = 1, 2 do print(i) end", "function f() return 1 end"]
    incomplete_code_samples = ["for i = 1, 2 do", "function f()", "x = {", "if x then", "t = joule.tensor.zeros("]
    invalid_code_samples = ["x = = 1", "end end", "local 1 = 2"]

    code_generate_error = 'error("this cell fails")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'joule'", "result": "joule"},
        {"code": "joule.tensor.ones(3):sum()", "result": "3.0"},
        {"code": "{ 1, 2, x = 'y' }", "result": '{ 1, 2, x = "y" }'},
    ]

    code_display_data = [
        {"code": "joule.display(joule.plot.grid(joule.tensor.zeros(4, 1, 8, 8)))", "mime": "image/png"},
        {"code": "joule.display('some text')", "mime": "text/plain"},
    ]

    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "joule.ebm.SGLD"
    code_clear_output = "joule.clear_output()"


def _sign(key, parts):
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


def _drain_iopub(kc, until_idle_of=None, timeout=TIMEOUT):
    """IOPub messages up to the idle status of `until_idle_of`."""
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        out.append(msg)
        if (until_idle_of and msg["parent_header"].get("msg_id") == until_idle_of
                and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"):
            return out
    raise AssertionError("no idle status")


class JouleKernelExtras(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name="joule", startup_timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def interrupted(self, code, after):
        """The reply to `code`, interrupted `after` seconds into it (an error), and how long the
        kernel took to answer the interrupt; IOPub is drained."""
        msg_id = self.kc.execute(code)
        time.sleep(after)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        answered = time.time() - t0
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        _drain_iopub(self.kc, msg_id)
        return reply, answered

    def execute(self, code, **kw):
        msg_id = self.kc.execute(code, **kw)
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        return reply, _drain_iopub(self.kc, msg_id)

    def test_bad_signature_is_dropped_and_nothing_runs(self):
        conn = self.km.get_connection_info()
        key = conn["key"]
        key = key if isinstance(key, bytes) else key.encode()
        self.execute("tampered = 'no'")
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(f"{conn['transport']}://{conn['ip']}:{conn['shell_port']}")
        try:
            header = json.dumps({"msg_id": uuid.uuid4().hex, "session": uuid.uuid4().hex, "username": "x",
                                 "date": "2024-01-01T00:00:00Z", "msg_type": "execute_request", "version": "5.3"}).encode()
            content = json.dumps({"code": "tampered = 'yes'", "silent": False, "store_history": True,
                                  "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}).encode()
            parts = [header, b"{}", b"{}", content]
            # Signed with the wrong key, then with a good signature over other content: both dropped.
            sock.send_multipart([b"<IDS|MSG>", _sign(b"wrong key", parts)] + parts)
            good = _sign(key, [header, b"{}", b"{}", b'{"code": "x = 1"}'])
            sock.send_multipart([b"<IDS|MSG>", good] + parts)
            self.assertEqual(sock.poll(2000), 0, "the kernel answered a message with a wrong signature")
            # A correctly signed message on the same socket is answered.
            sock.send_multipart([b"<IDS|MSG>", _sign(key, parts)] + parts)
            self.assertNotEqual(sock.poll(TIMEOUT * 1000), 0, "no reply to a correctly signed message")
            sock.recv_multipart()
        finally:
            sock.close()
        reply, _ = self.execute("tampered")
        # Only the correctly signed request ran.
        reply, out = self.execute("tampered")
        results = [m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "execute_result"]
        self.assertEqual(results, ["yes"])

    def test_interrupt_stops_a_long_cell_and_the_kernel_stays_usable(self):
        reply, _ = self.interrupted("n = 0\nwhile true do n = n + 1 end", after=1.0)
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        reply, out = self.execute("n > 0")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "execute_result"], ["true"])

    def test_interrupt_stops_training(self):
        code = ("local m = joule.nn.ShallowCNN{ hidden = 4, classes = 2, seed = 1 }\n"
                "local s = joule.ebm.SGLD{ model = m, steps = 5 }\n"
                "local j = joule.ebm.JEM{ model = m, sampler = s }\n"
                "local x = joule.tensor.rand(64, 1, 56, 56) * 2 - 1\n"
                "local y = {} for i = 1, 64 do y[i] = i % 2 end\n"
                "for epoch = 1, 10000 do j:fit_epoch({ images = x, labels = y }, { batch_size = 8, progress = false }) end")
        _, answered = self.interrupted(code, after=2.0)
        self.assertLess(answered, 30)
        reply, _ = self.execute("1 + 1")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_interrupt_stops_a_long_swift_call(self):
        # One SGLD call of a million steps (minutes): it polls the interrupt between steps, so the
        # reply comes well within TIMEOUT.
        reply, _ = self.interrupted("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 2, seed = 1 }\n"
                                    "local s = joule.ebm.SGLD{ model = m }\n"
                                    "s:sample{ n = 8, steps = 1000000 }", after=1.0)
        self.assertEqual(reply["content"]["ename"], "Interrupted")

    def test_io_read_asks_the_front_end(self):
        msg_id = self.kc.execute("local a = io.read()\nlocal b = io.read('n')\nreturn a .. '|' .. (b * 2)", allow_stdin=True)
        for value in ["first line", "21"]:
            req = self.kc.get_stdin_msg(timeout=TIMEOUT)
            self.assertEqual(req["msg_type"], "input_request")
            self.kc.input(value)
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")
        out = _drain_iopub(self.kc, msg_id)
        self.assertEqual([m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "execute_result"], ["first line|42"])
        # Without stdin io.read is an error, not a hang.
        reply, _ = self.execute("io.read()", allow_stdin=False)
        self.assertEqual(reply["content"]["status"], "error")

    def test_completion_of_methods_and_documentation(self):
        self.execute("model = joule.nn.ShallowCNN{ hidden = 4, classes = 3 }")
        self.kc.complete("model:ener")
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertEqual(sorted(reply["content"]["matches"]), ["energy", "energy_grad"])
        self.assertEqual(reply["content"]["cursor_start"], len("model:"))
        self.kc.inspect("model:energy", cursor_pos=len("model:energy"))
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertTrue(reply["content"]["found"])
        self.assertIn("E(x, y)", reply["content"]["data"]["text/plain"])
        self.kc.inspect("nothing_here", cursor_pos=3)
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertFalse(reply["content"]["found"])

    def test_user_expressions_and_silent(self):
        reply, out = self.execute("v = 5", user_expressions={"double": "v * 2", "bad": "v.."})
        ue = reply["content"]["user_expressions"]
        self.assertEqual(ue["double"]["data"]["text/plain"], "10")
        self.assertEqual(ue["bad"]["status"], "error")
        count = reply["content"]["execution_count"]
        reply, out = self.execute("print('quiet')", silent=True)
        self.assertEqual(reply["content"]["execution_count"], count)
        self.assertEqual([m for m in out if m["msg_type"] == "stream"], [])


if __name__ == "__main__":
    unittest.main()
