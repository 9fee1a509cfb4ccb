"""joule.widgets through the kernel as a front end sees it (jupyter_client): comm_open from the kernel
for every widget kind with ipywidgets 8 state (the same keys as ipywidgets' own models: ipywidgets is
installed in this environment for the comparison), front-end updates that change values and run
callbacks (echo_update sent back; queued updates superseded by the latest), comm_info_request, button
clicks, and bad comm messages answered with an error while nothing changes."""
import pytest
import ipywidgets
from jupyter_client.manager import KernelManager

TIMEOUT = 60
KINDS = ["IntSlider", "FloatSlider", "FloatLogSlider", "Dropdown", "Checkbox", "Button", "Label", "Output", "Image",
         "HBox", "VBox"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def kernel(tmp_path):
    log = open(tmp_path / "kernel.log", "w+")
    km = KernelManager(kernel_name="joule")
    km.start_kernel(stderr=log, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    log.close()


def iopub_until_idle(kc, msg_id):
    """The IOPub messages parented to `msg_id`, up to its idle status."""
    out = []
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return out
        out.append(m)


def run(kc, code):
    """Executes `code`; (reply content, IOPub messages)."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply["content"], iopub_until_idle(kc, msg_id)


def value(kc, expr):
    content, msgs = run(kc, "return " + expr)
    assert content["status"] == "ok", content
    [r] = [m for m in msgs if m["msg_type"] == "execute_result"]
    return r["content"]["data"]["text/plain"]


def send_comm(kc, msg_type, content, buffers=None):
    """A front end's comm message on the shell channel; its IOPub messages."""
    msg = kc.session.msg(msg_type, content)
    kc.session.send(kc.shell_channel.socket, msg, buffers=buffers)
    return iopub_until_idle(kc, msg["header"]["msg_id"])


def update(kc, comm_id, state):
    return send_comm(kc, "comm_msg", {"comm_id": comm_id, "data": {"method": "update", "state": state, "buffer_paths": []}})


def opened(msgs):
    """comm_id → (comm_open content, buffers) of the kernel's comm_opens."""
    return {m["content"]["comm_id"]: (dict(m["content"], metadata=m["metadata"]), m["buffers"])
            for m in msgs if m["msg_type"] == "comm_open"}


def widget_id(kc, name):
    return value(kc, f"{name}.id").strip('"')


def stderr_text(msgs):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


def test_every_kind_opens_a_comm_with_ipywidgets_8_state(kernel, tmp_path):
    kc = kernel
    code = "\n".join([
        "local W = joule.widgets",
        "ws = { W.IntSlider{ description = 'steps', min = 16, max = 256, step = 16, value = 64 },",
        "  W.FloatSlider{ value = 0.5, max = 1 }, W.FloatLogSlider{ description = 'step size', min = -3, max = 0, value = 0.01 },",
        "  W.Dropdown{ options = { 'a', 'b', 'c' }, value = 'b' }, W.Checkbox{ value = true }, W.Button{ description = 'go' },",
        "  W.Label{ value = 'hi' }, W.Output{}, W.Image{ value = joule.plot.grid(joule.tensor.zeros{ 2, 1, 4, 4 }) } }",
        "ws[10] = W.HBox{ children = { ws[1], ws[2] } }",
        "ws[11] = W.VBox{ children = { ws[10], ws[3] } }",
        "for _, w in ipairs(ws) do joule.display(w) end",
    ])
    content, msgs = run(kc, code)
    assert content["status"] == "ok", content
    comms = opened(msgs)
    for c, _ in comms.values():
        assert c["target_name"] == "jupyter.widget" and c["metadata"] == {"version": "2.1.0"}
    by_model = {}
    for cid, (c, bufs) in comms.items():
        by_model.setdefault(c["data"]["state"]["_model_name"], []).append((cid, c["data"], bufs))
    layout_keys = set(ipywidgets.Layout().get_state())
    displays = [m["content"]["data"]["application/vnd.jupyter.widget-view+json"] for m in msgs if m["msg_type"] == "display_data"]
    assert [d["version_major"] for d in displays] == [2] * len(KINDS)
    shown = [d["model_id"] for d in displays]
    for kind, model_id in zip(KINDS, shown):
        data = comms[model_id][0]["data"]
        state = data["state"]
        reference = getattr(ipywidgets, kind)()
        expected = reference.get_state()
        keys = set(state) | {p[0] for p in data["buffer_paths"]}
        assert keys == set(expected), f"{kind}: {sorted(keys ^ set(expected))}"
        for k in ("_model_name", "_model_module", "_model_module_version", "_view_name", "_view_module", "_view_module_version"):
            assert state[k] == expected[k], (kind, k)
        # layout (and style) are models of their own, opened before the widget.
        for ref in ("layout", "style"):
            if ref in expected:
                target = state[ref]
                assert target.startswith("IPY_MODEL_") and target[10:] in comms, (kind, ref)
                sub = comms[target[10:]][0]["data"]["state"]
                assert set(sub) == set(getattr(reference, ref).get_state()), (kind, ref)
                assert sub["_model_name"] == getattr(reference, ref).get_state()["_model_name"], (kind, ref)
                assert list(comms).index(target[10:]) < list(comms).index(model_id), (kind, ref)
    s = {k: comms[i][0]["data"]["state"] for k, i in zip(KINDS, shown)}
    assert (s["IntSlider"]["value"], s["IntSlider"]["min"], s["IntSlider"]["step"], s["IntSlider"]["description"]) == (64, 16, 16, "steps")
    assert s["FloatLogSlider"]["value"] == 0.01 and s["FloatLogSlider"]["min"] == -3.0
    assert s["Dropdown"]["_options_labels"] == ["a", "b", "c"] and s["Dropdown"]["index"] == 1
    assert s["Checkbox"]["value"] is True and s["Label"]["value"] == "hi" and s["Button"]["description"] == "go"
    assert s["HBox"]["children"] == ["IPY_MODEL_" + shown[0], "IPY_MODEL_" + shown[1]]
    assert s["VBox"]["children"] == ["IPY_MODEL_" + shown[9], "IPY_MODEL_" + shown[2]]
    # The Image's PNG travels as a binary buffer.
    image = comms[shown[8]]
    assert image[0]["data"]["buffer_paths"] == [["value"]] and bytes(image[1][0]).startswith(PNG)
    # Layout models of every widget: ipywidgets' keys.
    for cid, data, _ in by_model["LayoutModel"]:
        assert set(data["state"]) == layout_keys


def test_front_end_update_changes_the_value_and_runs_the_callback(kernel):
    kc = kernel
    content, _ = run(kc, "s = joule.widgets.IntSlider{ max = 30, value = 5 }\n"
                         "seen = {}\ns:on_change(function(v) seen[#seen + 1] = v; print('value is now', v) end)\njoule.display(s)")
    assert content["status"] == "ok"
    sid = widget_id(kc, "s")
    msgs = update(kc, sid, {"value": 7})
    echo = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert echo and echo[0]["content"]["data"] == {"method": "echo_update", "state": {"value": 7}, "buffer_paths": []}
    assert "value is now\t7\n" in "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    assert value(kc, "s.value") == "7" and value(kc, "seen[1]") == "7"
    # A kernel-side change is sent to the front end (and runs the callback too).
    content, msgs = run(kc, "s.value = 11")
    [u] = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert u["content"] == {"comm_id": sid, "data": {"method": "update", "state": {"value": 11}, "buffer_paths": []}}
    assert value(kc, "#seen") == "2"
    # request_state answers with the whole state.
    msgs = send_comm(kc, "comm_msg", {"comm_id": sid, "data": {"method": "request_state"}})
    [full] = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert full["content"]["data"]["method"] == "update" and full["content"]["data"]["state"]["value"] == 11
    assert full["content"]["data"]["state"]["_model_name"] == "IntSliderModel"


def test_queued_updates_are_superseded_by_the_latest(kernel):
    kc = kernel
    # A slow callback: while it runs the later updates queue up.
    run(kc, "s = joule.widgets.IntSlider{ max = 30 }\nruns = {}\n"
            "s:on_change(function(v) runs[#runs + 1] = v; local t = os.clock() while os.clock() - t < 0.3 do end end)")
    sid = widget_id(kc, "s")
    ids = []
    for v in range(1, 6):
        msg = kc.session.msg("comm_msg", {"comm_id": sid, "data": {"method": "update", "state": {"value": v}, "buffer_paths": []}})
        kc.session.send(kc.shell_channel.socket, msg)
        ids.append(msg["header"]["msg_id"])
    for i in ids:
        iopub_until_idle(kc, i)
    runs = [int(x) for x in value(kc, "table.concat(runs, ',')").strip('"').split(",")]
    assert runs[-1] == 5 and runs == sorted(runs) and len(runs) < 5, runs
    assert value(kc, "s.value") == "5"


def test_comm_info_lists_open_comms(kernel):
    kc = kernel
    run(kc, "a = joule.widgets.Checkbox{}\nb = joule.widgets.Output{}")
    ids = {widget_id(kc, "a"), widget_id(kc, "b")}
    kc.comm_info()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    comms = reply["content"]["comms"]
    assert ids <= set(comms) and all(c["target_name"] == "jupyter.widget" for c in comms.values())
    # Checkbox: itself, layout, style; Output: itself, layout.
    assert len(comms) == 5
    kc.comm_info(target_name="other.target")
    assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["comms"] == {}
    # A comm the front end closes is gone from the list.
    aid = widget_id(kc, "a")
    send_comm(kc, "comm_close", {"comm_id": aid, "data": {}})
    kc.comm_info(target_name="jupyter.widget")
    assert aid not in kc.get_shell_msg(timeout=TIMEOUT)["content"]["comms"]


def test_a_widget_closed_by_the_kernel_is_gone(kernel):
    kc = kernel
    run(kc, "c = joule.widgets.Checkbox{}")
    cid = widget_id(kc, "c")
    content, msgs = run(kc, "c:close()")
    assert [m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_close"] == [cid]
    kc.comm_info()
    assert cid not in kc.get_shell_msg(timeout=TIMEOUT)["content"]["comms"]
    assert "unknown comm" in stderr_text(update(kc, cid, {"value": True}))


def test_button_clicks_run_on_click(kernel):
    kc = kernel
    run(kc, "b = joule.widgets.Button{ description = 'go' }\nclicks = 0\nb:on_click(function() clicks = clicks + 1 end)")
    bid = widget_id(kc, "b")
    for _ in range(2):
        send_comm(kc, "comm_msg", {"comm_id": bid, "data": {"method": "custom", "content": {"event": "click"}}})
    assert value(kc, "clicks") == "2"


def test_bad_comm_messages_are_refused_and_change_nothing(kernel):
    kc = kernel
    run(kc, "s = joule.widgets.IntSlider{ value = 3 }\ncalls = 0\ns:on_change(function() calls = calls + 1 end)")
    sid = widget_id(kc, "s")
    assert "unknown comm" in stderr_text(update(kc, "no-such-comm", {"value": 1}))
    for bad in ({"value": "three"}, {"value": 4, "no_such_key": 1}, {"value": 2.5}, {"_model_name": "Evil"}, {"value": None}):
        assert "refused" in stderr_text(update(kc, sid, bad)), bad
    assert "without a state" in stderr_text(send_comm(kc, "comm_msg", {"comm_id": sid, "data": {"method": "update", "state": [1]}}))
    assert "unknown method" in stderr_text(send_comm(kc, "comm_msg", {"comm_id": sid, "data": {"method": "explode"}}))
    assert "without data" in stderr_text(send_comm(kc, "comm_msg", {"comm_id": sid}))
    assert value(kc, "s.value") == "3" and value(kc, "calls") == "0"
    # Still serving.
    update(kc, sid, {"value": 4})
    assert value(kc, "s.value") == "4" and value(kc, "calls") == "1"


def test_callback_errors_show_and_the_kernel_lives_on(kernel):
    kc = kernel
    run(kc, "s = joule.widgets.IntSlider{}\ns:on_change(function(v) error('bad value ' .. v) end)")
    msgs = update(kc, widget_id(kc, "s"), {"value": 9})
    [e] = [m for m in msgs if m["msg_type"] == "error"]
    assert "bad value 9" in e["content"]["evalue"]
    # interact: the function's error goes into its Output area.
    content, msgs = run(kc, "ui = joule.widgets.interact(function(a) if a.n > 2 then error('too big') end print('n=' .. a.n) end, { n = {0, 4} })")
    assert content["status"] == "ok", content
    out_id = widget_id(kc, "ui.output")
    ups = [m["content"]["data"]["state"]["outputs"] for m in msgs
           if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == out_id and "outputs" in m["content"]["data"]["state"]]
    assert ups[-1] == [{"output_type": "stream", "name": "stdout", "text": "n=2\n"}]
    msgs = update(kc, widget_id(kc, "ui.controls.n"), {"value": 3})
    ups = [m["content"]["data"]["state"]["outputs"] for m in msgs
           if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == out_id]
    assert [o["output_type"] for o in ups[-1]] == ["error"] and "too big" in ups[-1][0]["evalue"]
    assert value(kc, "1 + 1") == "2"


def test_interact_reruns_and_shows_the_figure_in_its_output(kernel):
    kc = kernel
    content, msgs = run(kc, "ui = joule.widgets.interact(function(a) return joule.plot.grid(joule.tensor.zeros{ a.n, 1, 4, 4 }) end,"
                            " { n = {1, 8}, kind = {'x', 'y'} })")
    assert content["status"] == "ok", content
    [view] = [m for m in msgs if m["msg_type"] == "display_data"]
    box = view["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = opened(msgs)[box][0]["data"]["state"]
    assert state["_model_name"] == "VBoxModel" and len(state["children"]) == 3
    out_id = widget_id(kc, "ui.output")

    def last_png(msgs):
        ups = [m["content"]["data"]["state"]["outputs"] for m in msgs
               if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == out_id and m["content"]["data"]["state"].get("outputs")]
        return ups[-1][-1]["data"]["image/png"]

    first = last_png(msgs)
    second = last_png(update(kc, widget_id(kc, "ui.controls.n"), {"value": 8}))
    assert first != second


def test_control_comm_sends_every_state(kernel):
    """On reload, JupyterLab's widget manager asks for all models at once on a jupyter.widget.control comm."""
    kc = kernel
    run(kc, "img = joule.widgets.Image{ value = joule.plot.grid(joule.tensor.zeros{ 1, 1, 4, 4 }) }")
    iid = widget_id(kc, "img")
    assert not [m for m in send_comm(kc, "comm_open", {"comm_id": "ctl", "target_name": "jupyter.widget.control", "data": {}})
                if m["msg_type"] == "comm_close"]
    msgs = send_comm(kc, "comm_msg", {"comm_id": "ctl", "data": {"method": "request_states"}})
    [r] = [m for m in msgs if m["msg_type"] == "comm_msg"]
    data = r["content"]["data"]
    assert data["method"] == "update_states"
    assert {s["model_name"] for s in data["states"].values()} == {"ImageModel", "LayoutModel"}
    assert data["buffer_paths"] == [[iid, "state", "value"]] and bytes(r["buffers"][0]).startswith(PNG)
    # An unknown target is closed at once.
    msgs = send_comm(kc, "comm_open", {"comm_id": "x", "target_name": "no.such.target", "data": {}})
    assert [m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_close"] == ["x"]


def test_notebook_run_saves_the_widget_state_as_nbclient_does(joule_run, notebook_params, tmp_path):
    """`joule notebook run` of notebook 08 writes the widget-state metadata and widget-view outputs
    that nbclient (store_widget_state) writes for the same notebook through the kernel."""
    import nbclient
    import nbformat
    from conftest import ROOT
    from test_notebooks import inject
    path = ROOT / "notebooks/08-interactive-sampling.ipynb"
    a = joule_run(path)
    nb = inject(nbformat.read(path, as_version=4), notebook_params)
    nbclient.NotebookClient(nb, kernel_name="joule", timeout=120, store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    for out in (a, nb):
        meta = out.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
        assert (meta["version_major"], meta["version_minor"]) == (2, 0)
        state = meta["state"]
        views = [o.data["application/vnd.jupyter.widget-view+json"] for c in out.cells if c.cell_type == "code"
                 for o in c.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert len(views) == 2 and all(v["model_id"] in state and v["version_major"] == 2 for v in views)
        # Every IPY_MODEL reference resolves.
        for s in state.values():
            for v in s["state"].values():
                for ref in (v if isinstance(v, list) else [v]):
                    if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                        assert ref[10:] in state
    models = lambda out: sorted(s["model_name"] for s in out.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values())
    assert models(a) == models(nb)
    # The last values: the step size a later cell set, and the sampler's picture as a PNG buffer.
    import base64
    state = a.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    [log_slider] = [s["state"] for s in state.values() if s["model_name"] == "FloatLogSliderModel"]
    assert log_slider["value"] == 3.0 and log_slider["description"] == "step size"
    [image] = [s for s in state.values() if s["model_name"] == "ImageModel"]
    assert base64.b64decode(image["buffers"][0]["data"]).startswith(PNG)


def test_a_running_callback_sees_it_is_superseded(kernel):
    """A long callback polling joule.widgets.superseded() stops when the next change arrives; that one runs."""
    import time
    kc = kernel
    run(kc, "s = joule.widgets.IntSlider{ max = 9 }\nstopped, done = {}, {}\n"
            "s:on_change(function(v) local t = os.clock() while os.clock() - t < 3 do"
            " if joule.widgets.superseded() then stopped[#stopped + 1] = v return end end done[#done + 1] = v end)")
    sid = widget_id(kc, "s")
    ids = []
    for v in (1, 2):
        msg = kc.session.msg("comm_msg", {"comm_id": sid, "data": {"method": "update", "state": {"value": v}, "buffer_paths": []}})
        kc.session.send(kc.shell_channel.socket, msg)
        ids.append(msg["header"]["msg_id"])
        time.sleep(0.5)  # the first callback is running (it would for 3 s)
    for i in ids:
        iopub_until_idle(kc, i)
    assert value(kc, "table.concat(stopped, ',') .. '|' .. table.concat(done, ',')") == "1|2"
