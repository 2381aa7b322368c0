"""The script the loader (or PyScript) runs first: start the bridge, or say plainly on
every container why not."""

try:
    from meshes_bridge.browser.boot import boot

    boot()
except Exception as exc:  # a missing or broken Python file: never leave "booting" forever
    import js

    text = "the bridge could not start: " + type(exc).__name__
    js.console.error("[meshes-bridge] " + text)
    for element in js.document.querySelectorAll("[data-meshes-embed]"):
        element.setAttribute("data-state", "error")
        detail = js.JSON.parse('{"code": "boot", "message": "' + text + '"}')
        init = js.Object.new()
        init.detail = detail
        init.bubbles = True
        element.dispatchEvent(js.CustomEvent.new("meshes-bridge:error", init))
