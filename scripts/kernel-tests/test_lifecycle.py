"""The kernel's life as a front end drives it: Run All after a failing cell (queued requests are
answered `aborted`, unless stop_on_error is false), and shutdown and restart under load (a running
cell, a pending input request) without a crash, the process gone soon after its reply."""
import time

import pytest
from jupyter_client.manager import KernelManager

TIMEOUT = 60


@pytest.fixture
def kernel(tmp_path):
    """A started kernel whose standard error goes to a file (read after it ends)."""
    log = open(tmp_path / "kernel.log", "w+")
    km = KernelManager(kernel_name="joule")
    km.start_kernel(stderr=log)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield km, kc, tmp_path / "kernel.log"
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)
    log.close()


# A failing cell that first runs for 0.2 s, so that requests sent along with it are surely made
# before it fails (the kernel tells queued requests from later ones by their headers' dates).
SLOW_ERROR = "local t = os.clock() while os.clock() - t < 0.2 do end error('{}')"


def replies(kc, ids):
    """The shell replies to `ids`, in order (others, e.g. from a kernel before a restart, are skipped)."""
    got = {}
    while len(got) < len(ids):
        msg = kc.get_shell_msg(timeout=TIMEOUT)
        if msg["parent_header"]["msg_id"] in ids:
            got[msg["parent_header"]["msg_id"]] = msg
    return [got[i] for i in ids]


def statuses(kc, ids):
    return [r["content"]["status"] for r in replies(kc, ids)]


def assert_no_crash(log_path):
    text = log_path.read_text()
    for sign in ("Assertion", "Fatal error", "Crash", "Segmentation", "Aborted", "signal"):
        assert sign not in text, text


def test_requests_queued_behind_an_error_are_aborted(kernel):
    _, kc, _ = kernel
    ids = [kc.execute("print('one')"), kc.execute(SLOW_ERROR.format("two fails")), kc.execute("third = true"),
           kc.execute("print('four')")]
    assert statuses(kc, ids) == ["ok", "error", "aborted", "aborted"]
    # The queue drained: a request sent after the replies came runs (at once: it was made after the
    # failure), and the aborted cell never did.
    [r] = replies(kc, [kc.execute("assert(third == nil)")])
    assert r["content"]["status"] == "ok"


def test_a_new_failure_while_aborting_aborts_what_follows_it(kernel):
    _, kc, _ = kernel
    [r] = replies(kc, [kc.execute("error('first')")])
    assert r["content"]["status"] == "error"
    # Sent at once after the first failure's reply (inside the kernel's abort window): they run,
    # and the second failure aborts the request behind it.
    ids = [kc.execute(SLOW_ERROR.format("second")), kc.execute("ran = true"), kc.execute("ran = true")]
    assert statuses(kc, ids) == ["error", "aborted", "aborted"]
    time.sleep(0.2)
    [r] = replies(kc, [kc.execute("assert(ran == nil)")])
    assert r["content"]["status"] == "ok"


def test_other_requests_are_answered_while_aborting(kernel):
    _, kc, _ = kernel
    ids = [kc.execute(SLOW_ERROR.format("x")), kc.complete("pri"), kc.execute("y = 1")]
    rs = replies(kc, ids)
    assert [r["msg_type"] for r in rs] == ["execute_reply", "complete_reply", "execute_reply"]
    assert rs[1]["content"]["matches"] == ["print"]
    assert rs[2]["content"]["status"] == "aborted"


def test_stop_on_error_false_runs_the_queue_on(kernel):
    _, kc, _ = kernel
    ids = [kc.execute("error('tolerated')", stop_on_error=False), kc.execute("z = 3"), kc.execute("z")]
    assert statuses(kc, ids) == ["error", "ok", "ok"]


def test_an_interrupted_cell_aborts_the_queue(kernel):
    km, kc, _ = kernel
    ids = [kc.execute("while true do end"), kc.execute("after = 1")]
    time.sleep(0.5)
    km.interrupt_kernel()
    rs = replies(kc, ids)
    assert rs[0]["content"]["ename"] == "Interrupted"
    assert rs[1]["content"]["status"] == "aborted"


def test_silent_errors_do_not_abort(kernel):
    _, kc, _ = kernel
    ids = [kc.execute("error('quiet')", silent=True), kc.execute("w = 2")]
    assert statuses(kc, ids) == ["error", "ok"]


def test_heartbeat_and_control_answer_while_a_cell_runs(kernel):
    km, kc, _ = kernel
    kc.execute("while true do end")
    time.sleep(0.3)
    assert kc.is_alive() and kc.hb_channel.is_beating()
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "kernel_info_reply"
    km.interrupt_kernel()
    assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["ename"] == "Interrupted"


def shutdown(km, kc):
    """Sends shutdown_request on control; (the reply, seconds until the process ended, its exit status)."""
    proc = km.provisioner.process
    t0 = time.time()
    msg = kc.session.msg("shutdown_request", {"restart": False})
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=TIMEOUT)
    code = proc.wait(timeout=TIMEOUT)
    return reply, time.time() - t0, code


@pytest.mark.parametrize("load", ["idle", "running cell", "long Swift call", "pending input"])
def test_shutdown_under_load_is_answered_and_ends_the_process(kernel, load):
    km, kc, log = kernel
    if load == "running cell":
        kc.execute("while true do end")
    elif load == "long Swift call":
        # One call that does not look at the interrupt flag for a while (a big matrix product, repeated).
        kc.execute("local a = joule.tensor.rand(4000, 4000)\nwhile true do local b = a:matmul(a) end")
    elif load == "pending input":
        kc.execute("io.write('name? ')\nlocal x = io.read()", allow_stdin=True)
        req = kc.get_stdin_msg(timeout=TIMEOUT)
        assert req["content"]["prompt"] == "name?"
    time.sleep(0.5)
    reply, seconds, code = shutdown(km, kc)
    assert reply["msg_type"] == "shutdown_reply" and reply["content"]["status"] == "ok"
    print(f"{load}: process gone {seconds:.2f} s after the shutdown request")
    assert code == 0
    # Gone on its own well before the 5 s after which jupyter_client would kill it.
    assert seconds < 3
    assert_no_crash(log)


def test_restarts_with_interrupts_never_crash(kernel):
    km, kc, log = kernel
    for k in range(10):
        if k % 2 == 0:
            kc.execute("n = 0 while true do n = n + 1 end")
            time.sleep(0.2)
            if k % 4 == 0:
                km.interrupt_kernel()
                assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["ename"] == "Interrupted"
        proc = km.provisioner.process
        km.restart_kernel(now=False)
        assert proc.wait(timeout=TIMEOUT) == 0, f"restart {k + 1}: the old kernel ended with status {proc.returncode}"
        kc.wait_for_ready(timeout=TIMEOUT)
        [r] = replies(kc, [kc.execute(f"return {k} + 1")])
        assert r["content"]["status"] == "ok"
    assert_no_crash(log)


def test_kernel_info_shows_versions_and_help(kernel):
    _, kc, _ = kernel
    kc.kernel_info()
    info = kc.get_shell_msg(timeout=TIMEOUT)["content"]
    assert "Lua 5.4" in info["banner"] and info["implementation_version"] in info["banner"]
    assert info["language_info"]["version"].startswith("5.4.")
    assert info["help_links"] and all(link["url"].startswith("file://") for link in info["help_links"])
    kc.inspect("joule.ebm.SGLD", cursor_pos=len("joule.ebm.SGLD"))
    data = kc.get_shell_msg(timeout=TIMEOUT)["content"]["data"]
    assert data["text/markdown"].startswith("```lua\njoule.ebm.SGLD")
    assert "text/plain" in data
