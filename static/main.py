from bridge.browser.boot import boot

boot()
