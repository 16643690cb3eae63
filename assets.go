package wsfleet

import "embed"

// Assets holds the browser demo page with its wx shim (web/) and the
// example mini-program it runs (examples/miniprogram/), read-only. A
// worker serves them to plain HTTP GETs on its port (-demo-page).
//
//go:embed web/index.html web/demo.css web/wx.js web/wxml.js web/chat.html web/chat.js web/chat.css web/wsfleet.js examples/miniprogram
var Assets embed.FS
