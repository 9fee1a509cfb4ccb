import Foundation
import JouleCore

/// Widget models as ipywidgets 8 defines them (widget protocol 2.1.0): each control's state keys
/// and defaults, copied from ipywidgets 8.1's `get_state()`, and its layout and style as separate
/// models referenced by `"IPY_MODEL_<id>"`. JupyterLab's widget manager renders these; the state
/// saved into a notebook (`application/vnd.jupyter.widget-state+json`) is the same.
public enum WidgetSpec {
    public static let protocolVersion = "2.1.0"
    static let controls = "@jupyter-widgets/controls", base = "@jupyter-widgets/base", output = "@jupyter-widgets/output"
    static let version = "2.0.0"

    /// The Lua-visible kinds, as ipywidgets names them.
    public static let kinds = ["IntSlider", "FloatSlider", "FloatLogSlider", "Dropdown", "Checkbox", "Button", "Label",
                               "Output", "Image", "HBox", "VBox"]

    static func header(model: String, module: String = controls, view: String?, viewModule: String = controls,
                       version: String = version, viewVersion: String = version) -> [String: JSON] {
        ["_model_name": .string(model), "_model_module": .string(module), "_model_module_version": .string(version),
         "_view_name": view.map(JSON.string) ?? .null, "_view_module": .string(viewModule),
         "_view_module_version": .string(viewVersion), "_view_count": .null]
    }

    /// What every DOM widget has besides its header.
    static let domWidget: [String: JSON] = ["_dom_classes": .array([]), "tabbable": .null, "tooltip": .null]

    static let description: [String: JSON] = ["description": .string(""), "description_allow_html": .bool(false)]

    static func slider(value: JSON, min: JSON, max: JSON, step: JSON, format: String) -> [String: JSON] {
        description.merging(["behavior": .string("drag-tap"), "continuous_update": .bool(true), "disabled": .bool(false),
                             "orientation": .string("horizontal"), "readout": .bool(true), "readout_format": .string(format),
                             "min": min, "max": max, "step": step, "value": value]) { $1 }
    }

    /// The control's own keys (besides header, DOM keys, layout and style) and its style model.
    static func definition(_ kind: String) -> (keys: [String: JSON], style: String?)? {
        switch kind {
        case "IntSlider": return (slider(value: .int(0), min: .int(0), max: .int(100), step: .int(1), format: "d"), "SliderStyleModel")
        case "FloatSlider": return (slider(value: .double(0), min: .double(0), max: .double(100), step: .double(0.1), format: ".2f"), "SliderStyleModel")
        case "FloatLogSlider":
            var k = slider(value: .double(1), min: .double(0), max: .double(4), step: .double(0.1), format: ".3g")
            k["base"] = .double(10)
            return (k, "SliderStyleModel")
        case "Dropdown":
            return (description.merging(["_options_labels": .array([]), "disabled": .bool(false), "index": .null]) { $1 }, "DescriptionStyleModel")
        case "Checkbox":
            return (description.merging(["disabled": .bool(false), "indent": .bool(true), "value": .bool(false)]) { $1 }, "CheckboxStyleModel")
        case "Button":
            return (["button_style": .string(""), "description": .string(""), "disabled": .bool(false), "icon": .string("")], "ButtonStyleModel")
        case "Label":
            return (description.merging(["placeholder": .string("\u{200b}"), "value": .string("")]) { $1 }, "LabelStyleModel")
        case "Output": return (["msg_id": .string(""), "outputs": .array([])], nil)
        case "Image": return (["format": .string("png"), "height": .string(""), "width": .string("")], nil)
        case "HBox", "VBox": return (["box_style": .string(""), "children": .array([])], nil)
        default: return nil
        }
    }

    /// The full initial state of a `kind` control (nil for an unknown kind).
    public static func state(_ kind: String, layout: String, style: String?) -> [String: JSON]? {
        guard let d = definition(kind) else { return nil }
        var s = kind == "Output"
            ? header(model: "OutputModel", module: output, view: "OutputView", viewModule: output, version: "1.0.0", viewVersion: "1.0.0")
            : header(model: kind + "Model", view: kind + "View")
        s.merge(domWidget) { $1 }
        s.merge(d.keys) { $1 }
        s["layout"] = .string("IPY_MODEL_" + layout)
        if let style { s["style"] = .string("IPY_MODEL_" + style) }
        return s
    }

    public static func styleModel(_ kind: String) -> String? { definition(kind)?.style }

    static let layoutKeys = ["align_content", "align_items", "align_self", "border_bottom", "border_left", "border_right",
                             "border_top", "bottom", "display", "flex", "flex_flow", "grid_area", "grid_auto_columns",
                             "grid_auto_flow", "grid_auto_rows", "grid_column", "grid_gap", "grid_row", "grid_template_areas",
                             "grid_template_columns", "grid_template_rows", "height", "justify_content", "justify_items", "left",
                             "margin", "max_height", "max_width", "min_height", "min_width", "object_fit", "object_position",
                             "order", "overflow", "padding", "right", "top", "visibility", "width"]

    public static var layoutState: [String: JSON] {
        var s = header(model: "LayoutModel", module: base, view: "LayoutView", viewModule: base)
        for k in layoutKeys { s[k] = .null }
        return s
    }

    static let fonts = ["font_family", "font_size", "font_style", "font_variant", "font_weight", "text_color", "text_decoration"]

    public static func styleState(_ model: String) -> [String: JSON] {
        var s = header(model: model, view: "StyleView", viewModule: base)
        switch model {
        case "SliderStyleModel": s["description_width"] = .string(""); s["handle_color"] = .null
        case "DescriptionStyleModel": s["description_width"] = .string("")
        case "CheckboxStyleModel": s["description_width"] = .string(""); s["background"] = .null
        case "ButtonStyleModel": s["button_color"] = .null; for f in fonts { s[f] = .null }
        case "LabelStyleModel": s["description_width"] = .string(""); s["background"] = .null; for f in fonts { s[f] = .null }
        default: break
        }
        return s
    }

    /// Keys a front end may not change (the model's identity).
    static func isHeader(_ key: String) -> Bool { key.hasPrefix("_model_") || key.hasPrefix("_view_") && key != "_view_count" }
}

/// One widget model the kernel holds: its state (what the front end shows) and binary buffers
/// (an Image's PNG under `value`).
public final class WidgetModel {
    public let id: String
    public let kind: String
    public var state: [String: JSON]
    public var buffers: [String: Data] = [:]
    public init(id: String, kind: String, state: [String: JSON]) {
        self.id = id
        self.kind = kind
        self.state = state
    }

    /// Checks a front end's change against the state's keys and types: unknown keys, a type other
    /// than the key's (an integer where a number is, null where null is allowed) and changes of the
    /// model's identity are refused, and then nothing changes.
    public func validate(_ change: [String: JSON], bufferKeys: Set<String> = []) throws {
        for (key, value) in change {
            guard let old = state[key] ?? (buffers[key] != nil || kind == "Image" && key == "value" ? .null : nil) else {
                throw NotebookError("widget \(id) (\(kind)) has no '\(key)'\(suggestion(for: key, among: state.keys.sorted()))")
            }
            if WidgetSpec.isHeader(key) { throw NotebookError("widget \(id): '\(key)' cannot change") }
            if bufferKeys.contains(key) { continue }
            let fits: Bool
            switch (old, value) {
            case (.int, .int), (.double, .int), (.double, .double), (.bool, .bool), (.string, .string), (.array, .array), (.object, .object): fits = true
            // A whole-number double becomes the key's integer: only one that Int holds (1e300 or
            // 2^63 from a client once trapped the kernel on the conversion).
            case (.int, .double(let d)): fits = d.rounded() == d && d >= -0x1p63 && d < 0x1p63
            case (.null, _), (_, .null): fits = ["index", "tabbable", "tooltip", "_view_count"].contains(key) || old == .null
            default: fits = false
            }
            guard fits else { throw NotebookError("widget \(id) (\(kind)): '\(key)' cannot be \(value.serialized())") }
        }
    }

    /// Applies a front end's `update`, checked first (nothing changes when any key is wrong); the keys
    /// that changed. A whole number keeps the key's type (JSON has one kind of number).
    public func update(_ change: [String: JSON], buffers new: [String: Data]) throws -> [String] {
        try validate(change, bufferKeys: Set(new.keys))
        var converted: [String: JSON] = [:]
        for (k, var v) in change where new[k] == nil {
            switch (state[k], v) {
            case (.double?, .int(let n)): v = .double(Double(n))
            case (.int?, .double(let d)):
                // validate() let only doubles that Int holds through; checked again, not trusted.
                guard let n = Int(exactly: d) else { throw NotebookError("widget \(id) (\(kind)): '\(k)' cannot be \(d): no integer in range") }
                v = .int(n)
            default: break
            }
            converted[k] = v
        }
        var changed: [String] = []
        for (k, v) in converted {
            if state[k] != v { changed.append(k) }
            state[k] = v
        }
        for (k, b) in new { buffers[k] = b; changed.append(k) }
        return changed.sorted()
    }

    /// The state as the protocol sends it: buffers' keys left out of the JSON and listed in
    /// `buffer_paths`, the bytes as separate frames.
    public func wire(_ keys: [String]? = nil) -> (state: [String: JSON], paths: [JSON], buffers: [Data]) {
        var s: [String: JSON] = [:]
        for k in keys ?? Array(state.keys) { if let v = state[k] { s[k] = v } }
        let names = buffers.keys.filter { keys?.contains($0) ?? true }.sorted()
        return (s, names.map { .array([.string($0)]) }, names.map { buffers[$0]! })
    }

    /// The entry of the notebook's saved widget state: base64 buffers inline, as nbclient writes it.
    public var saved: JSON {
        .object(["model_name": state["_model_name"] ?? .null, "model_module": state["_model_module"] ?? .null,
                 "model_module_version": state["_model_module_version"] ?? .null,
                 "state": .object(state),
                 "buffers": .array(buffers.keys.sorted().map {
                     .object(["path": .array([.string($0)]), "encoding": .string("base64"), "data": .string(buffers[$0]!.base64EncodedString())])
                 })])
    }
}

/// The models of one session, by id, in the order they were made.
public final class WidgetRegistry {
    public private(set) var order: [String] = []
    public private(set) var models: [String: WidgetModel] = [:]
    public init() {}

    public func add(_ m: WidgetModel) { models[m.id] = m; order.append(m.id) }

    /// A closed model: no longer synced, listed or saved.
    public func remove(_ id: String) { models[id] = nil; order.removeAll { $0 == id } }

    /// The notebook metadata `widgets` entry (nil when the session made none).
    public var metadata: JSON? {
        guard !order.isEmpty else { return nil }
        var state: [String: JSON] = [:]
        for id in order { state[id] = models[id]!.saved }
        return .object(["application/vnd.jupyter.widget-state+json": .object([
            "version_major": .int(2), "version_minor": .int(0), "state": .object(state)])])
    }

    public static func viewData(_ id: String, text: String) -> [String: JSON] {
        ["text/plain": .string(text),
         "application/vnd.jupyter.widget-view+json": .object(["model_id": .string(id), "version_major": .int(2), "version_minor": .int(0)])]
    }

    public static func newID() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
}
