/*
 * wx.js: the parts of the WeChat mini-program runtime that a WebSocket page uses, implemented
 * over the browser's WebSocket, so that a mini-program page runs unchanged in a browser.
 *
 * Globals it defines: wx, App, getApp, Page, getCurrentPages, and wxShim (configuration, the
 * launcher and test hooks). No dependencies, no build step. See web/README.md.
 *
 *   wxShim.config.socketUrl   where wx.connectSocket really connects:
 *       'same-origin'  (default on an http(s) page) ws(s)://<the host that served the page>/
 *       'asis' or null the URL the page asked for
 *       'ws://h:p/x'   that fixed URL
 *       function(url)  whatever it returns
 *     Set it before the page connects, or put ?socketUrl=... in the demo page's address, or
 *     define window.wxShimConfig = { socketUrl: ... } before loading this file.
 *   wxShim.config.maxSockets  simultaneous sockets (5, as in WeChat since base library 1.7.0).
 *   wxShim.launch(opts)       fetch and run a mini-program page (needs wxml.js), see below.
 */
(function (global) {
  'use strict';

  const onHttp = /^https?:$/.test(global.location && global.location.protocol);

  const config = Object.assign({
    socketUrl: onHttp ? 'same-origin' : null,
    maxSockets: 5,
    // Element the toast is drawn over; null: the whole window.
    toastHost: null,
  }, global.wxShimConfig || {});

  // ---------------------------------------------------------------- log and test hooks

  const events = [];          // every wx API call and socket event, for tests and the demo
  const toasts = [];          // every toast shown: {title, icon, duration, time}
  const listeners = [];

  function record(kind, name, detail) {
    const entry = { time: Date.now(), kind: kind, name: name, detail: detail === undefined ? '' : detail };
    events.push(entry);
    if (events.length > 1000) events.shift();
    for (const fn of listeners.slice()) {
      try { fn(entry); } catch (e) { console.error(e); }
    }
  }

  function describe(data) {
    if (typeof data === 'string') return JSON.stringify(data);
    if (data instanceof ArrayBuffer) return 'ArrayBuffer(' + data.byteLength + ')';
    return String(data);
  }

  // ---------------------------------------------------------------- callbacks

  function typeName(v) {
    if (v === null) return 'Null';
    if (v === undefined) return 'Undefined';
    const t = Object.prototype.toString.call(v).slice(8, -1);
    return t;
  }

  function paramError(name, expected, value) {
    return 'parameter error: parameter.' + name + ' should be ' + expected + ' instead of ' + typeName(value) + ';';
  }

  function later(fn) {
    Promise.resolve().then(fn).catch(function (e) { console.error(e); });
  }

  function safeCall(fn, arg, self) {
    if (typeof fn !== 'function') return;
    try { fn.call(self, arg); } catch (e) {
      console.error(e);
      if (typeof global.reportError === 'function') global.reportError(e);
    }
  }

  // WeChat's convention: success or fail, then complete, asynchronously; errMsg is
  // "<api>:ok" or "<api>:fail <why>".
  function settle(opts, api, ok, why, extra) {
    const res = Object.assign({ errMsg: api + (ok ? ':ok' : ':fail' + (why ? ' ' + why : '')) }, extra || {});
    record(ok ? 'ok' : 'fail', api, res.errMsg);
    if (!ok) console.warn('[wx shim] ' + res.errMsg);
    later(function () {
      safeCall(ok ? opts.success : opts.fail, res);
      safeCall(opts.complete, res);
    });
    return res;
  }

  function hasCallback(opts) {
    return typeof opts.success === 'function' || typeof opts.fail === 'function' || typeof opts.complete === 'function';
  }

  // APIs that WeChat lets you call "Promise style": without success/fail/complete they
  // return a Promise that resolves with the success result or rejects with the fail result.
  function promiseStyle(fn) {
    return function (opts) {
      opts = opts || {};
      if (hasCallback(opts)) { fn(opts); return undefined; }
      return new Promise(function (resolve, reject) {
        fn(Object.assign({}, opts, { success: resolve, fail: reject }));
      });
    };
  }

  // ---------------------------------------------------------------- sockets

  const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;
  const live = new Set();     // tasks that are not closed yet: the 5-socket limit counts them
  let nextTaskId = 1;
  let current = null;         // the task of the latest wx.connectSocket: the legacy API drives it
  const globalHandlers = { open: null, message: null, close: null, error: null };

  function resolveSocketUrl(url) {
    const c = config.socketUrl;
    if (c === null || c === undefined || c === '' || c === 'asis') return url;
    if (typeof c === 'function') return c(url) || url;
    if (c === 'same-origin') {
      return (global.location.protocol === 'https:' ? 'wss://' : 'ws://') + global.location.host + '/';
    }
    return String(c);
  }

  class SocketTask {
    constructor(url) {
      this.socketTaskId = nextTaskId++;
      this.url = url;               // where it really connects (after wxShim.config.socketUrl)
      this._state = CONNECTING;
      this._ws = null;
      this._on = { open: [], message: [], close: [], error: [] };
    }

    // Not in WeChat's SocketTask: for tests and debugging. 0 connecting, 1 open, 2 closing, 3 closed.
    get readyState() { return this._state; }

    onOpen(fn) { this._listen('open', fn); }
    onMessage(fn) { this._listen('message', fn); }
    onClose(fn) { this._listen('close', fn); }
    onError(fn) { this._listen('error', fn); }

    _listen(type, fn) {
      if (typeof fn !== 'function') throw new TypeError('SocketTask.on' + type[0].toUpperCase() + type.slice(1) + ': the listener should be a function');
      this._on[type].push(fn);
    }

    _emit(type, res) {
      record('event', 'socket#' + this.socketTaskId + ' ' + type,
        type === 'message' ? describe(res.data)
          : type === 'close' ? res.code + ' ' + JSON.stringify(res.reason)
            : type === 'error' ? res.errMsg : '');
      for (const fn of this._on[type].slice()) safeCall(fn, res);
      if (current === this) safeCall(globalHandlers[type], res);
    }

    send(opts) {
      opts = opts || {};
      const data = opts.data;
      if (this._state !== OPEN || !this._ws) {
        return void settle(opts, 'sendSocketMessage', false, 'WebSocket is not connected');
      }
      if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) {
        // WeChat takes a string or an ArrayBuffer, nothing else (not even a typed array).
        return void settle(opts, 'sendSocketMessage', false, 'invalid data type');
      }
      try {
        this._ws.send(data);
      } catch (e) {
        return void settle(opts, 'sendSocketMessage', false, e.message);
      }
      record('api', 'socket#' + this.socketTaskId + ' send()', describe(data));
      settle(opts, 'sendSocketMessage', true);
    }

    close(opts) {
      opts = opts || {};
      if (this._state === CLOSING || this._state === CLOSED || !this._ws) {
        return void settle(opts, 'closeSocket', false, 'WebSocket is not connected');
      }
      try {
        if (opts.code === undefined && opts.reason === undefined) this._ws.close(1000);
        else if (opts.reason === undefined) this._ws.close(opts.code);
        else this._ws.close(opts.code === undefined ? 1000 : opts.code, String(opts.reason));
      } catch (e) {
        // The browser only lets a client close with 1000 or 3000-4999, and a reason of at
        // most 123 bytes.
        return void settle(opts, 'closeSocket', false, e.message);
      }
      this._state = CLOSING;
      record('api', 'socket#' + this.socketTaskId + ' close()', opts.code === undefined ? '1000' : String(opts.code));
      settle(opts, 'closeSocket', true);
    }
  }

  function connectSocket(opts) {
    opts = opts || {};
    const task = new SocketTask(null);
    // Like WeChat: the global API (wx.onSocket*, wx.sendSocketMessage, wx.closeSocket) now
    // belongs to this socket, even if it cannot be created.
    current = task;

    const failTask = function (why, taskWhy) {
      task._state = CLOSED;
      settle(opts, 'connectSocket', false, why);
      // Listeners the page attaches right after the call still hear about it.
      setTimeout(function () { task._emit('error', { errMsg: 'createSocketTask:fail ' + (taskWhy || why) }); }, 0);
      return task;
    };

    if (typeof opts.url !== 'string' || opts.url === '') {
      return failTask(paramError('url', 'String', opts.url), 'invalid url');
    }
    if (!/^wss?:\/\//i.test(opts.url)) {
      return failTask('invalid url "' + opts.url + '"');
    }
    if (appState.hidden) {
      // WeChat suspends a page in the background: it makes no connection until it is shown.
      return failTask('app is in background');
    }
    if (live.size >= config.maxSockets) {
      return failTask('exceed max concurrent count ' + config.maxSockets,
        'exceed max concurrent count');
    }
    if (opts.header && Object.keys(opts.header).length) {
      console.info('[wx shim] connectSocket: a browser cannot set request headers; header ignored:', opts.header);
    }

    const url = resolveSocketUrl(opts.url);
    task.url = url;
    let ws;
    try {
      ws = opts.protocols && opts.protocols.length ? new WebSocket(url, opts.protocols) : new WebSocket(url);
    } catch (e) {
      return failTask(e.message);
    }
    ws.binaryType = 'arraybuffer';
    task._ws = ws;
    live.add(task);
    record('api', 'connectSocket', url === opts.url ? url : opts.url + ' -> ' + url);
    if (url !== opts.url) console.info('[wx shim] connectSocket ' + opts.url + ' -> ' + url);

    let opened = false;
    ws.addEventListener('open', function () {
      opened = true;
      if (task._state === CONNECTING) task._state = OPEN;
      // A browser cannot read the handshake's response headers.
      task._emit('open', { header: {}, protocol: ws.protocol });
    });
    ws.addEventListener('message', function (ev) {
      task._emit('message', { data: ev.data });
    });
    ws.addEventListener('error', function () {
      task._emit('error', { errMsg: opened ? 'WebSocket error' : 'WebSocket connection to ' + url + ' failed' });
    });
    ws.addEventListener('close', function (ev) {
      task._state = CLOSED;
      live.delete(task);
      task._emit('close', { code: ev.code, reason: ev.reason });
    });

    settle(opts, 'connectSocket', true, '', { socketTaskId: task.socketTaskId });
    return task;
  }

  function globalListener(type, api) {
    return function (fn) {
      if (typeof fn !== 'function') throw new TypeError('wx.' + api + ': the listener should be a function');
      // One listener per event, as the legacy API has it: a later call replaces the earlier one.
      globalHandlers[type] = fn;
    };
  }

  // ---------------------------------------------------------------- foreground and background

  // WeChat calls wx.onAppHide's listeners when the user leaves the mini-program, suspends it a
  // few seconds later and closes its sockets; on the way back it calls wx.onAppShow's.
  // wxShim.hide() and wxShim.show() do the same at once, for tests.
  const appState = { hidden: false, show: [], hide: [] };

  function appListener(list, api, add) {
    return function (fn) {
      if (typeof fn !== 'function') throw new TypeError('wx.' + api + ': the listener should be a function');
      const i = appState[list].indexOf(fn);
      if (add && i < 0) appState[list].push(fn);
      if (!add && i >= 0) appState[list].splice(i, 1);
    };
  }

  function hideApp() {
    if (appState.hidden) return;
    appState.hidden = true;
    record('event', 'appHide', '');
    for (const fn of appState.hide.slice()) safeCall(fn, {});
    if (currentPage) safeCall(currentPage.onHide, undefined, currentPage);
    for (const task of Array.from(live)) {
      if (task._state === CONNECTING || task._state === OPEN) task.close({ code: 1000, reason: 'suspended' });
    }
  }

  function showApp() {
    if (!appState.hidden) return;
    appState.hidden = false;
    record('event', 'appShow', '');
    const res = { path: currentPage ? currentPage.route : '', query: {}, scene: 1001, referrerInfo: {} };
    if (appInstance) safeCall(appInstance.onShow, res, appInstance);
    for (const fn of appState.show.slice()) safeCall(fn, res);
    if (currentPage) safeCall(currentPage.onShow, undefined, currentPage);
  }

  // ---------------------------------------------------------------- toast

  const TOAST_CSS = [
    '#wx-toast{position:fixed;inset:0;z-index:5000;display:flex;align-items:center;justify-content:center;pointer-events:none}',
    '#wx-toast.wx-toast-in-host{position:absolute}',
    '#wx-toast[hidden]{display:none}',
    '#wx-toast.wx-toast-mask{pointer-events:auto}',
    '#wx-toast .wx-toast-box{box-sizing:border-box;min-width:120px;max-width:70%;padding:22px 14px 16px;border-radius:8px;',
    'background:rgba(17,17,17,.72);color:#fff;text-align:center;font:16px/1.4 -apple-system,"PingFang SC","Noto Sans CJK SC","Noto Sans CJK TC","Microsoft YaHei",sans-serif}',
    '#wx-toast:not([data-icon=none]) .wx-toast-box{display:flex;flex-direction:column;align-items:center;justify-content:center;min-height:120px}',
    '#wx-toast[data-icon=none] .wx-toast-box{min-width:0;padding:10px 16px}',
    '#wx-toast .wx-toast-icon{display:block;margin:0 auto 10px;width:40px;height:40px;font:normal 38px/40px sans-serif}',
    '#wx-toast[data-icon=none] .wx-toast-icon{display:none}',
    '#wx-toast[data-icon=success] .wx-toast-icon::before{content:"\\2713"}',
    '#wx-toast[data-icon=error] .wx-toast-icon::before{content:"\\2715"}',
    '#wx-toast[data-icon=loading] .wx-toast-icon{box-sizing:border-box;width:34px;height:34px;border:3px solid rgba(255,255,255,.3);',
    'border-top-color:#fff;border-radius:50%;animation:wx-toast-spin 1s linear infinite}',
    '#wx-toast .wx-toast-icon.wx-toast-image{background:center/contain no-repeat}',
    '#wx-toast .wx-toast-icon.wx-toast-image::before{content:none}',
    '#wx-toast .wx-toast-title{margin:0;font-size:15px;word-break:break-all}',
    '@keyframes wx-toast-spin{to{transform:rotate(360deg)}}',
  ].join('\n');

  let toastTimer = null;

  function toastElement() {
    let el = document.getElementById('wx-toast');
    if (!document.getElementById('wx-shim-toast-style')) {
      const style = document.createElement('style');
      style.id = 'wx-shim-toast-style';
      style.textContent = TOAST_CSS;
      document.head.appendChild(style);
    }
    if (!el) {
      el = document.createElement('div');
      el.id = 'wx-toast';
      el.className = 'wx-toast';
      el.setAttribute('role', 'status');
      el.setAttribute('aria-live', 'polite');
      el.hidden = true;
      el.innerHTML = '<div class="wx-toast-box"><i class="wx-toast-icon"></i><p class="wx-toast-title"></p></div>';
    }
    const host = config.toastHost || document.body;
    if (el.parentNode !== host) host.appendChild(el);
    el.classList.toggle('wx-toast-in-host', host !== document.body);
    return el;
  }

  function showToastImpl(opts, api) {
    if (typeof opts.title !== 'string') {
      return void settle(opts, api, false, paramError('title', 'String', opts.title));
    }
    const icon = ['success', 'error', 'loading', 'none'].indexOf(opts.icon) >= 0 ? opts.icon : 'success';
    const duration = typeof opts.duration === 'number' ? opts.duration : 1500;
    const el = toastElement();
    el.dataset.icon = icon;
    el.dataset.title = opts.title;
    el.classList.toggle('wx-toast-mask', !!opts.mask);
    const iconEl = el.querySelector('.wx-toast-icon');
    iconEl.classList.toggle('wx-toast-image', !!opts.image);
    iconEl.style.backgroundImage = opts.image ? 'url("' + String(opts.image).replace(/"/g, '%22') + '")' : '';
    el.querySelector('.wx-toast-title').textContent = opts.title;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = null;
    if (api === 'showToast') {
      toastTimer = setTimeout(hideToastNow, duration);
    }
    toasts.push({ title: opts.title, icon: icon, duration: api === 'showToast' ? duration : null, time: Date.now() });
    record('api', api, opts.title);
    settle(opts, api, true);
  }

  function hideToastNow() {
    clearTimeout(toastTimer);
    toastTimer = null;
    const el = document.getElementById('wx-toast');
    if (el) el.hidden = true;
  }

  // ---------------------------------------------------------------- wx

  const navigationBar = { el: null };

  const wx = {
    connectSocket: connectSocket,
    onSocketOpen: globalListener('open', 'onSocketOpen'),
    onSocketMessage: globalListener('message', 'onSocketMessage'),
    onSocketClose: globalListener('close', 'onSocketClose'),
    onSocketError: globalListener('error', 'onSocketError'),
    onAppShow: appListener('show', 'onAppShow', true),
    offAppShow: appListener('show', 'offAppShow', false),
    onAppHide: appListener('hide', 'onAppHide', true),
    offAppHide: appListener('hide', 'offAppHide', false),

    sendSocketMessage: promiseStyle(function (opts) {
      if (!current) return void settle(opts, 'sendSocketMessage', false, 'WebSocket is not connected');
      current.send(opts);
    }),

    closeSocket: promiseStyle(function (opts) {
      if (!current) return void settle(opts, 'closeSocket', false, 'WebSocket is not connected');
      current.close(opts);
    }),

    showToast: promiseStyle(function (opts) { showToastImpl(opts, 'showToast'); }),
    showLoading: promiseStyle(function (opts) {
      showToastImpl(Object.assign({}, opts, { icon: 'loading' }), 'showLoading');
    }),
    hideToast: promiseStyle(function (opts) { hideToastNow(); settle(opts, 'hideToast', true); }),
    hideLoading: promiseStyle(function (opts) { hideToastNow(); settle(opts, 'hideLoading', true); }),

    setNavigationBarTitle: promiseStyle(function (opts) {
      if (navigationBar.el) navigationBar.el.textContent = String(opts.title);
      settle(opts, 'setNavigationBarTitle', true);
    }),

    getSystemInfoSync: function () {
      const root = currentPage && currentPage.__root;
      const w = root ? root.clientWidth : global.innerWidth;
      const h = root ? root.clientHeight : global.innerHeight;
      return {
        brand: 'browser', model: 'wx shim', platform: 'devtools', system: navigator.userAgent,
        pixelRatio: global.devicePixelRatio || 1, screenWidth: w, screenHeight: h,
        windowWidth: w, windowHeight: h, language: navigator.language, version: '0.0.0', SDKVersion: '0.0.0',
      };
    },
  };

  // ---------------------------------------------------------------- App, Page

  let appInstance;
  let currentPage = null;
  let pendingPage = null;     // set by launch() while the page's .js runs

  function App(options) {
    if (appInstance) throw new Error('App() may only be called once');
    appInstance = Object.assign({}, options || {});
    const launch = { path: '', query: {}, scene: 1001, referrerInfo: {} };
    safeCall(appInstance.onLaunch, launch, appInstance);
    safeCall(appInstance.onShow, launch, appInstance);
  }

  function getApp() {
    if (!appInstance) console.warn('[wx shim] getApp(): App() has not been called (is app.js loaded?)');
    return appInstance;
  }

  function getCurrentPages() { return currentPage ? [currentPage] : []; }

  function clone(v) {
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  }

  // setData keys may be paths: 'a.b', 'list[2].name'.
  function setPath(obj, path, value) {
    const keys = [];
    path.replace(/\[(\d+)\]|[^.[\]]+/g, function (m, idx) { keys.push(idx !== undefined ? Number(idx) : m); return m; });
    let o = obj;
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i];
      if (o[k] === null || typeof o[k] !== 'object') o[k] = typeof keys[i + 1] === 'number' ? [] : {};
      o = o[k];
    }
    o[keys[keys.length - 1]] = value;
  }

  function Page(def) {
    def = def || {};
    const ctx = pendingPage || { route: '', query: {}, template: null, root: null };
    pendingPage = null;
    const page = {};
    for (const k of Object.keys(def)) {
      if (k !== 'data') page[k] = (def[k] && typeof def[k] === 'object') ? clone(def[k]) : def[k];
    }
    page.data = clone(def.data) || {};
    page.route = page.__route__ = ctx.route;
    page.options = ctx.query;
    let view = null;

    page.setData = function (obj, callback) {
      if (obj === null || typeof obj !== 'object') throw new TypeError('setData: the argument should be an object');
      for (const k of Object.keys(obj)) {
        if (obj[k] === undefined) console.warn('[wx shim] setData: the value of "' + k + '" is undefined, it will not be set');
        else setPath(page.data, k, obj[k]);
      }
      if (view) view.render(page.data);
      if (typeof callback === 'function') later(function () { callback.call(page); });
    };

    // The renderer calls this for bindtap="name" and the like.
    page.__handleEvent = function (name, event) {
      const fn = page[name];
      if (typeof fn !== 'function') {
        console.warn('[wx shim] Component "' + page.route + '" does not have a method "' + name + '" to handle event "' + event.type + '".');
        return undefined;
      }
      return fn.call(page, event);
    };

    currentPage = page;
    global.addEventListener('pagehide', function () {
      safeCall(page.onHide, undefined, page);
      safeCall(page.onUnload, undefined, page);
    }, { once: true });

    // The lifecycle: onLoad(query), onShow(), first render, onReady().
    later(function () {
      safeCall(page.onLoad, ctx.query, page);
      safeCall(page.onShow, undefined, page);
      if (ctx.template && ctx.root && global.WXML) {
        view = global.WXML.createView(ctx.template, ctx.root, {
          onEvent: function (name, event) { return page.__handleEvent(name, event); },
        });
        page.__root = ctx.root;
        view.render(page.data);
      } else if (ctx.template) {
        console.error('[wx shim] wxml.js is not loaded: the page cannot be rendered');
      }
      safeCall(page.onReady, undefined, page);
      if (ctx.ready) ctx.ready(page);
    });
    return page;
  }

  function Component() {
    throw new Error('Component() is not supported by the wx shim: it runs Page() pages only');
  }

  // ---------------------------------------------------------------- loading a mini-program

  function joinPath(base, rel) {
    const u = new URL(rel, new URL(base, global.location.href));
    return u.pathname + u.search;
  }

  function runModule(code, path, ctx) {
    const module = { exports: {} };
    const require = function (rel) {
      let p = joinPath(path, rel);
      if (!/\.js$/.test(p)) p += '.js';
      if (ctx.modules[p]) return ctx.modules[p].exports;
      // The mini-program's require() is synchronous, so is this one.
      const xhr = new XMLHttpRequest();
      xhr.open('GET', p, false);
      xhr.send();
      if (xhr.status !== 200) throw new Error('require: cannot load ' + p + ' (' + xhr.status + ')');
      ctx.modules[p] = { exports: {} };
      ctx.modules[p].exports = runModule(xhr.responseText, p, ctx);
      return ctx.modules[p].exports;
    };
    const fn = new Function('wx', 'App', 'Page', 'Component', 'getApp', 'getCurrentPages', 'require', 'module', 'exports',
      code + '\n//# sourceURL=' + new URL(path, global.location.href).href);
    fn.call(undefined, wx, App, Page, Component, getApp, getCurrentPages, require, module, module.exports);
    return module.exports;
  }

  async function fetchText(url, optional) {
    const res = await fetch(url, { cache: 'no-cache' });
    if (!res.ok) {
      if (optional) return null;
      throw new Error('cannot load ' + url + ': HTTP ' + res.status);
    }
    return res.text();
  }

  function addStyle(id, css) {
    let el = document.getElementById(id);
    if (!el) {
      el = document.createElement('style');
      el.id = id;
      document.head.appendChild(el);
    }
    el.textContent = css;
  }

  function parseQuery(search) {
    const q = {};
    new URLSearchParams(search || '').forEach(function (v, k) { q[k] = v; });
    return q;
  }

  /*
   * launch({ base, page, query, root, navbar, toastHost }): load a mini-program and show one page.
   *   base       URL of the folder with app.json ('/miniprogram/')
   *   page       route such as 'pages/index/index' (default: the first of app.json's pages)
   *   query      the page's onLoad argument (default {})
   *   root       element the page renders into
   *   navbar     optional element that gets the navigation bar title (and its colours)
   *   toastHost  optional element toasts are drawn over
   * Resolves with the page once its onReady has run.
   */
  async function launch(opts) {
    opts = opts || {};
    const base = (opts.base || './').replace(/\/?$/, '/');
    if (opts.toastHost) config.toastHost = opts.toastHost;
    if (opts.navbar) navigationBar.el = opts.navbar;

    const appJson = JSON.parse(await fetchText(base + 'app.json'));
    const route = (opts.page || (appJson.pages || [])[0] || '').replace(/^\//, '').replace(/\.(js|wxml)$/, '');
    if (!route) throw new Error('app.json lists no pages');
    const pageBase = base + route;
    const loaded = await Promise.all([
      fetchText(base + 'app.js'),
      fetchText(base + 'app.wxss', true),
      fetchText(pageBase + '.json', true),
      fetchText(pageBase + '.wxml'),
      fetchText(pageBase + '.wxss', true),
      fetchText(pageBase + '.js'),
    ]);
    const appJs = loaded[0], appWxss = loaded[1], pageJson = loaded[2], wxml = loaded[3], pageWxss = loaded[4], pageJs = loaded[5];
    const WXML = global.WXML;
    if (!WXML) throw new Error('wxml.js must be loaded before wxShim.launch()');

    const win = Object.assign({}, appJson.window || {}, pageJson ? JSON.parse(pageJson) : {});
    if (navigationBar.el) {
      navigationBar.el.textContent = win.navigationBarTitleText || '';
      const bar = navigationBar.el.closest('[data-wx-navbar]') || navigationBar.el;
      if (win.navigationBarBackgroundColor) bar.style.backgroundColor = win.navigationBarBackgroundColor;
      bar.style.color = win.navigationBarTextStyle === 'white' ? '#fff' : '#000';
    }
    if (win.navigationBarTitleText) document.title = win.navigationBarTitleText + ' · ' + document.title;

    if (appWxss !== null) addStyle('wxss-app', WXML.wxss(appWxss, { file: base + 'app.wxss' }));
    if (pageWxss !== null) addStyle('wxss-page', WXML.wxss(pageWxss, { file: pageBase + '.wxss' }));

    const ctx = { modules: {} };
    if (!appInstance) runModule(appJs, base + 'app.js', ctx);

    return new Promise(function (resolve, reject) {
      pendingPage = {
        route: route,
        query: opts.query || {},
        template: WXML.compile(wxml, { file: pageBase + '.wxml' }),
        root: opts.root,
        ready: resolve,
      };
      try {
        runModule(pageJs, pageBase + '.js', ctx);
      } catch (e) {
        pendingPage = null;
        return reject(e);
      }
      if (pendingPage) {
        pendingPage = null;
        reject(new Error(pageBase + '.js did not call Page()'));
      }
    });
  }

  const wxShim = {
    config: config,
    launch: launch,
    parseQuery: parseQuery,
    events: events,
    toasts: toasts,
    // Sockets not closed yet, oldest first.
    sockets: function () { return Array.from(live); },
    onLog: function (fn) { listeners.push(fn); },
    resolveSocketUrl: resolveSocketUrl,
    // hide(): the user leaves: onAppHide listeners, the page's onHide, every socket closed, and
    // no new one until show(). show(): back: App's onShow, onAppShow listeners, page's onShow.
    hide: hideApp,
    show: showApp,
    hidden: function () { return appState.hidden; },
    SocketTask: SocketTask,
  };

  global.wx = wx;
  global.App = App;
  global.getApp = getApp;
  global.Page = Page;
  global.Component = Component;
  global.getCurrentPages = getCurrentPages;
  global.wxShim = wxShim;
})(window);
