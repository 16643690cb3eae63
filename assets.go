// Package wsfleet holds the files the server embeds: the browser demo page
// with its wx shim (web/) and the example mini-program it runs
// (examples/miniprogram/). The Go code lives in cmd/, internal/ and pkg/.
package wsfleet

import "embed"

// Assets holds web/ and examples/miniprogram/, read-only.
//
//go:embed web/index.html web/demo.css web/wx.js web/wxml.js web/chat.html web/chat.js web/chat.css examples/miniprogram
var Assets embed.FS
