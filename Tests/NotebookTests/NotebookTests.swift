import CLua
import Foundation
import LuaHost
import XCTest
import Notebook
import Tensor

final class JSONTests: XCTestCase {
    func testRoundTripKeepsTypesAndEscapes() throws {
        let text = #"{"a": [1, 2.5, -3e2, true, false, null], "s": "tab\tquote\" é \u00e9 \ud83d\ude00 \n", "o": {}}"#
        let j = try JSON.parse(text)
        XCTAssertEqual(j["a"]?.array?[0], .int(1))
        XCTAssertEqual(j["a"]?.array?[1], .double(2.5))
        XCTAssertEqual(j["a"]?.array?[2], .double(-300))
        XCTAssertEqual(j["a"]?.array?[3], .bool(true))
        XCTAssertEqual(j["s"]?.string, "tab\tquote\" é é 😀 \n")
        XCTAssertEqual(try JSON.parse(j.serialized()), j)
        XCTAssertEqual(try JSON.parse(j.serialized(indent: 1)), j)
        XCTAssertEqual(JSON.object(["b": .int(1), "a": .int(2)]).serialized(), #"{"a":2,"b":1}"#)
    }

    func testMalformedJSONSaysWhere() {
        XCTAssertThrowsError(try JSON.parse("{\n  \"a\": [1, 2,\n}")) { e in
            let p = e as! JSON.ParseError
            XCTAssertEqual(p.line, 3)
        }
        XCTAssertThrowsError(try JSON.parse("[1] x"))
        XCTAssertThrowsError(try JSON.parse("\"unterminated"))
    }
}

final class WireTests: XCTestCase {
    func testHMACMatchesKnownVectors() {
        // RFC 4231 test case 2, and Python's hmac for the frames below.
        XCTAssertEqual(MessageSigner(key: "Jefe").sign([Data("what do ya want ".utf8), Data("for nothing?".utf8)]),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(MessageSigner(key: "secret").sign([#"{"a":1}"#, "{}", "{}", "{}"].map { Data($0.utf8) }),
                       "5439160579203ae5952244a353b0f81b6ca58a3fb44727217799b393ee79601c")
        XCTAssertEqual(MessageSigner(key: "").sign([Data("x".utf8)]), "")
    }

    func testEncodeDecodeAndRejectBadSignature() throws {
        let signer = MessageSigner(key: "k3y")
        let msg = WireMessage(identities: [Data("client".utf8)], header: WireMessage.header(type: "execute_request", session: "s"),
                              content: .object(["code": .string("print(1)")]))
        var frames = msg.encode(signer: signer)
        XCTAssertEqual(frames[1], WireMessage.delimiter)
        let back = try WireMessage.decode(frames, signer: signer)
        XCTAssertEqual(back.type, "execute_request")
        XCTAssertEqual(back.identities, [Data("client".utf8)])
        XCTAssertEqual(back.content["code"]?.string, "print(1)")
        // The content changed after signing: rejected, and so is a message signed with another key.
        frames[6] = Data(#"{"code":"os.exit(1)"}"#.utf8)
        XCTAssertThrowsError(try WireMessage.decode(frames, signer: signer)) { XCTAssertEqual($0 as? WireMessage.DecodeError, .badSignature) }
        XCTAssertThrowsError(try WireMessage.decode(msg.encode(signer: MessageSigner(key: "other")), signer: signer)) {
            XCTAssertEqual($0 as? WireMessage.DecodeError, .badSignature)
        }
        XCTAssertThrowsError(try WireMessage.decode([Data("x".utf8)], signer: signer)) { XCTAssertEqual($0 as? WireMessage.DecodeError, .noDelimiter) }
    }
}

final class NotebookFileTests: XCTestCase {
    func testAddsIdsAndUpgradesToFourFive() throws {
        let text = ##"{"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [{"cell_type": "code", "source": ["x = 1\n", "x"], "metadata": {}}, {"cell_type": "markdown", "source": "# t", "metadata": {}, "id": "keep-me"}]}"##
        let nb = try NotebookFile.parse(Data(text.utf8), name: "t.ipynb")
        XCTAssertEqual(nb.json["nbformat_minor"], .int(5))
        XCTAssertEqual(nb.cells[1]["id"]?.string, "keep-me")
        let id = try XCTUnwrap(nb.cells[0]["id"]?.string)
        XCTAssertTrue(NotebookFile.isValidID(id))
        XCTAssertEqual(nb.cells[0]["source"]?.text, "x = 1\nx")
        XCTAssertEqual(nb.cells[0]["outputs"], .array([]))
        XCTAssertEqual(nb.cells[0]["execution_count"], .null)
    }

    func testMalformedNotebooksGiveClearErrors() {
        func message(_ text: String) -> String {
            do { _ = try NotebookFile.parse(Data(text.utf8), name: "bad.ipynb"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{ not json").hasPrefix("bad.ipynb: not a notebook: malformed JSON"), message("{ not json"))
        XCTAssertEqual(message("[]"), "bad.ipynb: not a notebook: the top level is not a JSON object")
        XCTAssertEqual(message(#"{"cells": []}"#), "bad.ipynb: not a notebook: no 'nbformat' version")
        XCTAssertTrue(message(#"{"nbformat": 3, "worksheets": []}"#).contains("nbformat 3 is not supported"))
        XCTAssertEqual(message(#"{"nbformat": 4, "metadata": {}}"#), "bad.ipynb: not a notebook: no 'cells' list")
        XCTAssertEqual(message(#"{"nbformat": 4, "cells": [{"source": "x"}]}"#), "bad.ipynb: cell 1 has no 'cell_type'")
        XCTAssertEqual(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}"#),
                       "bad.ipynb: cell 1 has no 'source' text (a string or a list of strings)")
    }

    func testParameterInjectionFollowsTheParametersCell() throws {
        let cells: [JSON] = [NotebookFile.codeCell("a = 1", id: "a"), NotebookFile.codeCell("n = 3", id: "p", tags: ["parameters"]),
                             NotebookFile.codeCell("print(n)", id: "b")]
        let out = try NotebookRunner.inject(["n=5", "name=it's", "flag=true", "lr=1e-4"], into: cells, ids: ["a", "p", "b"])
        XCTAssertEqual(out.map { $0["id"]?.string ?? "" }.prefix(2), ["a", "p"])
        XCTAssertEqual(NotebookFile.tags(out[2]), ["injected-parameters"])
        XCTAssertEqual(out[2]["source"]?.text, "-- Parameters injected by joule notebook run -p\nn = 5\nname = \"it's\"\nflag = true\nlr = 1e-4\n"
                       + "joule.set_params{ n = 5, name = \"it's\", flag = true, lr = 1e-4 }")
        XCTAssertThrowsError(try NotebookRunner.inject(["end=1"], into: cells, ids: []))
        XCTAssertThrowsError(try NotebookRunner.inject(["x"], into: cells, ids: []))
    }

    /// -p names are checked once the parameters cell has run: a global it sets (or a name
    /// joule.params declares) is known; anything else is an error on the injected cell, with a hint.
    func testParameterNamesAreCheckedAgainstTheParametersCell() throws {
        XCTAssertEqual(NotebookRunner.assignedNames("step_size = 10\nsteps, seed = 60, 1\nlocal hidden = 3\nif a == b then end"),
                       ["step_size", "steps", "seed"])
        func notebook(_ parameters: String) throws -> NotebookFile {
            let json = JSON.object(["nbformat": .int(4), "nbformat_minor": .int(5), "metadata": .object([:]), "cells": .array([
                NotebookFile.codeCell(parameters, id: "p", tags: ["parameters"]),
                NotebookFile.codeCell("print(step_size, p and p.lr)", id: "b")])])
            return try NotebookFile.parse(Data(json.serialized().utf8), name: "t.ipynb")
        }
        let plain = try notebook("step_size = 10\nhidden = nil")
        let ok = try NotebookRunner(parameters: ["step_size=5", "run=/tmp/joule-nb-test-run"]).run(plain)
        XCTAssertNil(ok.failure?.error.evalue)
        XCTAssertEqual(ok.notebook.cells[2]["outputs"]?.array?.first?["text"]?.string, "5\tnil\n")
        let typo = try NotebookRunner(parameters: ["stepsize=5"]).run(plain)
        XCTAssertEqual(typo.failure?.cell, 2)
        XCTAssertEqual(typo.failure?.error.evalue,
                       "unknown parameter 'stepsize' (did you mean 'step_size'?): the cell tagged parameters neither sets nor declares it")
        // joule.params in the parameters cell: its names are known, and the injected cell's
        // joule.set_params gives them the -p values.
        let declared = try notebook("step_size = 10\np = joule.params{ lr = 0.1 }")
        let both = try NotebookRunner(parameters: ["lr=0.5", "step_size=7"]).run(declared)
        XCTAssertNil(both.failure?.error.evalue)
        XCTAssertEqual(both.notebook.cells[2]["outputs"]?.array?.first?["text"]?.string, "7\t0.5\n")
        XCTAssertNotNil(try NotebookRunner(parameters: ["lrr=0.5"]).run(declared).failure)
    }

    /// The injected cell's joule.set_params reaches tables joule.params returned earlier, converted
    /// to the defaults' types: what papermill's injected cell (no -p) does through the kernel.
    func testSetParamsUpdatesWhatJouleParamsReturned() throws {
        let session = try LuaSession()
        XCTAssertTrue(session.execute("p = joule.params{ steps = 3, lr = 0.1, name = 'a', flag = false }").ok)
        let set = session.execute("joule.set_params{ steps = 5.0, lr = 1, name = 7, flag = 'yes', other = 'ignored' }")
        XCTAssertNil(set.error?.evalue)
        let r = session.execute("math.type(p.steps), p.steps, math.type(p.lr), p.name, p.flag, p.other")
        XCTAssertEqual(r.result?["text/plain"]?.string, "integer\t5\tfloat\t7\ttrue\tnil")
        let bad = session.execute("joule.set_params{ steps = 'many' }")
        XCTAssertEqual(bad.error?.evalue, "parameter 'steps' expects an integer, got 'many'")
    }
}

final class SessionTests: XCTestCase {
    final class Recorder: CellOutputSink {
        var streams = ""
        var last = ""
        var displays: [[String: JSON]] = []
        func stream(name: String, text: String) { streams += (name == last ? "" : "[\(name)]") + text; last = name }
        func display(data: [String: JSON]) { displays.append(data) }
        var errors: [CellError] = []
        func clearOutput(wait: Bool) { displays.removeAll() }
        func error(_ e: CellError) { errors.append(e) }
        func input(prompt: String, password: Bool) throws -> String { "typed 42" }
    }

    func testCellsKeepStateShowValuesAndCaptureOutput() throws {
        let s = try LuaSession()
        let r = Recorder()
        s.sink = r
        XCTAssertEqual(s.execute("x = 20\nx + 1").result?["text/plain"]?.string, "21")
        XCTAssertNil(s.execute("x = x * 2").result)
        XCTAssertEqual(s.execute("x;").result, nil)
        XCTAssertEqual(s.execute("x, 'a'").result?["text/plain"]?.string, "40\ta")
        XCTAssertEqual(s.execute("print('hi', x)\nio.write('w')").result, nil)
        XCTAssertEqual(r.streams, "[stdout]hi\t40\nw")
        r.streams = ""
        XCTAssertEqual(s.execute("for i = 1, 2 do\n  y = i\nend\ny").result?["text/plain"]?.string, "2")
        // A loop's last line is no cell value: the loop runs to its end.
        XCTAssertNil(s.execute("n = 0\nfor i = 1, 3 do\n  n = n + i\nend").result)
        XCTAssertNil(s.execute("for _, v in ipairs{ 1, 2, 3 } do\n  io.write(v)\nend").result)
        XCTAssertEqual(s.execute("n").result?["text/plain"]?.string, "6")
        XCTAssertEqual(s.execute("{ 1, 'two', k = { z = true } }").result?["text/plain"]?.string, #"{ 1, "two", k = { z = true } }"#)
        XCTAssertEqual(s.execute("io.read('n') + 0").result, nil)  // "typed 42" is not a number: an error
        XCTAssertEqual(s.execute("io.read()").result?["text/plain"]?.string, "typed 42")
    }

    func testErrorsFiguresAndDisplay() throws {
        let s = try LuaSession()
        let r = Recorder()
        s.sink = r
        let bad = s.execute("local t = nil\nreturn t.x", name: "cell[3]")
        XCTAssertEqual(bad.error?.ename, "LuaError")
        XCTAssertTrue(bad.error?.evalue.hasPrefix("cell[3]:2: attempt to index a nil value") ?? false, bad.error?.evalue ?? "")
        XCTAssertEqual(s.execute("if then").error?.ename, "LuaError")
        XCTAssertNil(s.execute("joule.plot.grid(joule.tensor.zeros(4, 1, 8, 8))").result)
        XCTAssertEqual(r.displays.count, 1)
        let png = try XCTUnwrap(Data(base64Encoded: r.displays[0]["image/png"]?.string ?? ""))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertNil(s.execute("joule.display('text', 3)").error)
        XCTAssertEqual(r.displays.count, 3)
        XCTAssertEqual(r.displays[2]["text/plain"]?.string, "3")
    }
}

final class CompletionTests: XCTestCase {
    func testGlobalsFieldsMethodsAndKeywords() throws {
        let s = try LuaSession()
        _ = s.execute("model = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }\nlocal_table = { alpha = 1, beta = 2 }", captureOutput: false)
        func complete(_ code: String) -> [String] { LuaCompleter.complete(s.lua, code: code, cursor: code.unicodeScalars.count).matches }
        XCTAssertEqual(complete("joule.ebm.S"), ["SGLD"])
        XCTAssertTrue(complete("joule.").contains("tensor") && complete("joule.").contains("plot"))
        XCTAssertEqual(complete("x = local_table.b"), ["beta"])
        XCTAssertTrue(complete("model:en").elementsEqual(["energy", "energy_grad"]))
        XCTAssertTrue(complete("pri").contains("print"))
        XCTAssertTrue(complete("whi").contains("while"))
        XCTAssertEqual(complete("print('joule.e"), [])
        XCTAssertEqual(complete("-- joule.e"), [])
        let r = LuaCompleter.complete(s.lua, code: "a = joule.nn.Sh + 1", cursor: 15)
        XCTAssertEqual(r.matches, ["ShallowCNN"])
        XCTAssertEqual(r.start, 13)
        XCTAssertEqual(r.end, 15)
    }

    func testIsCompleteAndDocs() throws {
        let s = try LuaSession()
        XCTAssertEqual(LuaChunk.status(s.lua, "for i = 1, 3 do"), .incomplete)
        XCTAssertEqual(LuaChunk.status(s.lua, "x = {"), .incomplete)
        XCTAssertEqual(LuaChunk.status(s.lua, "x = 1"), .complete)
        if case .invalid = LuaChunk.status(s.lua, "x = = 1") {} else { XCTFail("x = = 1 is invalid") }
        XCTAssertTrue(JouleDocs.lookup("joule.ebm.SGLD")?.hasPrefix("joule.ebm.SGLD{") ?? false)
        _ = s.execute("m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }\nebm = joule.ebm", captureOutput: false)
        XCTAssertTrue(JouleDocs.help(s.lua, expression: "m:energy")?.hasPrefix("model:energy(") ?? false)
        XCTAssertTrue(JouleDocs.help(s.lua, expression: "ebm.JEM")?.hasPrefix("joule.ebm.JEM{") ?? false)
        XCTAssertEqual(JupyterKernel.inspect(s.lua, code: "x = m", cursor: 5).map { String($0.prefix(10)) }, "ShallowCNN")
        XCTAssertEqual(JupyterKernel.inspect(s.lua, code: "s = joule.ebm.SGLD{ model = ", cursor: 28).map { String($0.prefix(15)) }, "joule.ebm.SGLD{")
    }

    /// Every function and method the joule module binds has documentation.
    func testEveryBoundFunctionIsDocumented() throws {
        let s = try LuaSession()
        let L = s.lua.L
        var missing: [String] = []
        func walk(_ prefix: String, depth: Int) {
            let t = lua_gettop(L)
            lua_pushnil(L)
            while lua_next(L, t) != 0 {
                if lua_type(L, -2) == LUA_TSTRING {
                    let key = String(cString: lua_tolstring(L, -2, nil))
                    let name = "\(prefix).\(key)"
                    if JouleDocs.entries[name] == nil { missing.append(name) }
                    if lua_type(L, -1) == LUA_TTABLE && depth > 0 { walk(name, depth: depth - 1) }
                }
                lua_settop(L, -2)
            }
        }
        lua_getglobal(L, "joule")
        walk("joule", depth: 2)
        lua_settop(L, 0)
        // Methods of every bound type (their metatables carry __name and __methods).
        for type in JouleDocs.names where !type.contains(".") && !type.contains(":") {
            guard lua_getfield(L, joule_registry_index(), type) == LUA_TTABLE else { lua_settop(L, 0); continue }
            lua_getfield(L, -1, "__methods")
            if lua_type(L, -1) == LUA_TTABLE {
                lua_pushnil(L)
                while lua_next(L, -2) != 0 {
                    let name = "\(type):\(String(cString: lua_tolstring(L, -2, nil)))"
                    if JouleDocs.entries[name] == nil { missing.append(name) }
                    lua_settop(L, -2)
                }
            }
            lua_settop(L, 0)
        }
        XCTAssertEqual(missing.sorted(), [], "undocumented: add them to the documentation beside their binding (Sources/LuaHost/joule.*/)")
    }
}
