import CLua
import Foundation

/// `joule.widgets`: sliders, a dropdown, a checkbox, a button, labels, Output and Image areas and
/// boxes, and `interact`. The widget objects, their callbacks and `interact` live here, in Lua;
/// where their state lives is the backend's business: the notebook kernel's (Notebook/WidgetBinding)
/// keeps ipywidgets models and syncs them with the front end, this file's own keeps plain values and
/// prints a short text form (the console, `joule run`, where nothing can show a slider).
///
/// Backend functions: create(kind, props) → id, get(id, key), set(id, key, value),
/// set_bytes(id, key, bytes), capture_begin(id), capture_end(id, error), clear(id), pending(id), close(id). The
/// internals (registry field `joule.widgets.internal`) hold `backend`, and `changed(id, key, value)`
/// and `clicked(id)`, which the backend calls for the front end's changes.
public enum WidgetsLibrary {

    public static let internalKey = "joule.widgets.internal"

    static func install(_ lua: LuaState) {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let source = EmbeddedLua.widgets
        guard luaL_loadbufferx(L, source, source.utf8.count, "@joule/widgets.lua", "t") == LUA_OK,
              joule_pcall(L, 0, 1) == LUA_OK else {
            fatalError("joule.widgets: \(String(cString: lua_tolstring(L, -1, nil)))")
        }
        lua_setfield(L, joule_registry_index(), internalKey)
    }
}

extension WidgetsLibrary {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.widgets", "joule.widgets",
     "Live controls for notebooks (ipywidgets 8 in JupyterLab): IntSlider, FloatSlider, FloatLogSlider, Dropdown, Checkbox, Button, Label, Output, Image, HBox, VBox, and interact. `w.value` reads and sets a control's value (setting it updates the page and runs its callbacks); w:on_change(function(value, w) ... end), button:on_click(function(b) ... end), output:capture(f), output:clear(), image:set(png_path | figure | tensor), w:close() (removes it from the page). Show one with joule.display(w) or as a cell's value. Outside a notebook they print a short text form."),
    ("joule.widgets.IntSlider", "joule.widgets.IntSlider{ description, min = 0, max = 100, step = 1, value = 0 } → Widget",
     "A slider of integers; other ipywidgets options too (readout, continuous_update, orientation, disabled)."),
    ("joule.widgets.FloatSlider", "joule.widgets.FloatSlider{ description, min = 0, max = 100, step = 0.1, value = 0, readout_format = '.2f' } → Widget",
     "A slider of numbers."),
    ("joule.widgets.FloatLogSlider", "joule.widgets.FloatLogSlider{ description, min = 0, max = 4, base = 10, step = 0.1, value = 1 } → Widget",
     "A slider on a log scale: min, max and step are exponents of `base`, the value is the number itself (min = -3, max = 0: 0.001 to 1)."),
    ("joule.widgets.Dropdown", "joule.widgets.Dropdown{ description, options = {...}, value } → Widget",
     "A choice among strings (the value is the chosen one; the first by default)."),
    ("joule.widgets.Checkbox", "joule.widgets.Checkbox{ description, value = false } → Widget", "A checkbox; its value is a boolean."),
    ("joule.widgets.Button", "joule.widgets.Button{ description, button_style, icon } → Widget",
     "A button: button:on_click(function(b) ... end) runs on every click (b:click() clicks it from Lua)."),
    ("joule.widgets.Label", "joule.widgets.Label{ value = '' } → Widget", "A line of text; set `label.value` to change it."),
    ("joule.widgets.Output", "joule.widgets.Output{} → Widget",
     "An output area: out:capture(function() ... end) sends what the function prints or displays (figures too) and its error, if any, into the area; out:clear() empties it."),
    ("joule.widgets.Image", "joule.widgets.Image{ value = png_path | figure | tensor, width, height } → Widget",
     "A picture: image:set(png_path | figure | tensor) replaces it (a tensor of images is shown as a grid)."),
    ("joule.widgets.HBox", "joule.widgets.HBox{ children = { w1, w2, ... } } → Widget", "Widgets side by side."),
    ("joule.widgets.VBox", "joule.widgets.VBox{ children = { w1, w2, ... } } → Widget", "Widgets one under the other."),
    ("joule.widgets.interact", "joule.widgets.interact(function(values) ... end, { name = {min, max [, step]} | {'a', 'b', ...} | boolean | widget, ... }) → VBox",
     "A control per name (sorted by name: integer ranges give an IntSlider, other ranges a FloatSlider, lists of strings a Dropdown, booleans a Checkbox; or pass a widget) above an Output area, shown at once. The function runs now and after every change with a table of the controls' values; the figure (or other value) it returns is shown in the area, and its error too. box.controls[name] and box.output are the parts."),
    ("joule.widgets.is_widget", "joule.widgets.is_widget(value) → boolean", "Whether a value is a widget."),
    ("joule.widgets.superseded", "joule.widgets.superseded() → boolean",
     "Inside a widget's callback: true when a newer change of that widget is already waiting (a long callback can return early; the newer change runs it again). False elsewhere and outside the kernel."),
    ]
}
