/*
 * wsfleet.js: a client for wsfleet's chat-style protocols that survives what phones do to
 * sockets. One file, no build step, no dependencies; the same API
 *   in a mini-program:  const wsfleet = require('./wsfleet.js')   (over wx.connectSocket)
 *   in a browser page:  <script src="/wsfleet.js"></script>       (window.wsfleet, over WebSocket)
 *
 *   const c = wsfleet.connect('wss://example.com/', { token: '...', name: 'alice' });
 *   c.on('message', m => ...);      // every server message, each kept one once, in order
 *   c.join('lobby');                // joined again (since the last offset seen) after a reconnect
 *   c.send({ type: 'say', room: 'lobby', text: 'hi' });  // queued while disconnected
 *
 * Behaviour (see web/README.md):
 *  - Reconnect: after a close, wait min(maxDelay, minDelay * 2^(attempt-1)), times a random
 *    factor in [0.5, 1] (jitter), then connect again; defaults 1 s doubling up to 30 s. At once,
 *    and with the back-off reset, when the mini-program comes back to the foreground
 *    (wx.onAppShow) or the browser page comes back online or visible.
 *  - Dead connection: after `heartbeat` ms without any incoming frame (default 15 s) it sends the
 *    `ping` message (default {"type":"whoami"}, which the chat app answers); after `deadAfter` ms
 *    without any incoming frame (default 25 s) the connection is declared dead, closed, and a new
 *    one is made. So a connection that vanished without a FIN is noticed within deadAfter plus
 *    one check period (deadAfter/10).
 *  - Rooms: join(room) is remembered; after every reconnect each room is joined again, with
 *    "since": {offset, epoch} of the last message seen in it when the server sent positions. The
 *    server's answer ("joined" with "recovered") is reported as a 'joined' event, and a rejoin
 *    that is not a complete recovery as a 'recovered' event with recovered:false: reload the
 *    room's state then. "said" messages whose offset is not after the last one seen in their
 *    room (same epoch) are dropped, a safety net against duplicates.
 *  - Inbox (option inbox, default true): the whispers to our name are tracked the same way. The
 *    first join of every connection carries "inbox": the {offset, epoch} of the last whisper seen
 *    ({} before any), so the server replays the whispers missed meanwhile; its answer ("inbox"
 *    with "recovered") is reported as an 'inbox' event, and a resume that is not complete, on a server
 *    that keeps our whispers, as a 'recovered' event with inbox:true, recovered:false. Whispers at or before the last one seen
 *    (same epoch) are dropped.
 *  - Queue: send() while disconnected queues the message (at most maxQueue messages and
 *    maxQueueBytes bytes; past that send() throws an Error and nothing is queued); the queue is
 *    flushed in order on the next connection once its rejoins are answered (or after
 *    `heartbeat` ms), and sends wait behind it.
 *  - Events: connecting {attempt, url}, connected {attempt}, disconnected {code, reason, dead},
 *    (wasOpen: false when the connection never opened), message (the parsed JSON),
 *    joined {room, recovered, resumed, message}, inbox {recovered, resumed, message},
 *    recovered {room, recovered, message}, error {message, error?}.
 */
(function (root, factory) {
  'use strict';
  const lib = factory(root);
  if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = lib;
  else root.wsfleet = lib;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this || {}, function (root) {
  'use strict';

  const DEFAULTS = {
    token: '',            // sent as ?token=... (and as Authorization: Bearer in a mini-program)
    query: null,          // extra query parameters {k: v}
    header: null,         // extra handshake headers (mini-program only: browsers cannot set them)
    protocols: null,      // WebSocket subprotocols
    name: '',             // the chat name joins carry (omit when the token names the user)
    minDelay: 1000,       // back-off: first delay, ms
    maxDelay: 30000,      // back-off: largest delay, ms
    heartbeat: 15000,     // ms of silence before a ping
    deadAfter: 25000,     // ms of silence before the connection is declared dead
    ping: { type: 'whoami' },
    maxQueue: 100,        // messages queued while disconnected
    maxQueueBytes: 65536, // bytes queued while disconnected
    inbox: true,          // track the whispers to our name and resume them on reconnect
  };

  function hasWx() {
    return typeof wx === 'object' && wx && typeof wx.connectSocket === 'function';
  }

  // ---------------------------------------------------------------- transports

  // A transport is {send(text), close(code, reason)}; it calls h.open(), h.message(text),
  // h.close(code, reason), h.error(msg) and nothing after close.
  function wxTransport(url, o, h) {
    const header = Object.assign({}, o.header || {});
    if (o.token && !header.Authorization) header.Authorization = 'Bearer ' + o.token;
    // A connectSocket that fails at once (too many sockets, in the background) may call only
    // fail: report it as a close.
    const opts = { url: url, header: header, fail: function (res) { h.close(1006, (res && res.errMsg) || 'connectSocket failed'); } };
    if (o.protocols) opts.protocols = o.protocols;
    const task = wx.connectSocket(opts);
    task.onOpen(function () { h.open(); });
    task.onMessage(function (res) { h.message(res.data); });
    task.onError(function (res) { h.error((res && res.errMsg) || 'socket error'); });
    task.onClose(function (res) { h.close(res && res.code, res && res.reason); });
    return {
      send: function (text) { task.send({ data: text }); },
      close: function (code, reason) { try { task.close({ code: code, reason: reason }); } catch (e) { /* closed */ } },
    };
  }

  function browserTransport(url, o, h) {
    const ws = o.protocols ? new root.WebSocket(url, o.protocols) : new root.WebSocket(url);
    ws.onopen = function () { h.open(); };
    ws.onmessage = function (ev) { h.message(ev.data); };
    ws.onerror = function () { h.error('socket error'); };
    ws.onclose = function (ev) { h.close(ev.code, ev.reason); };
    return {
      send: function (text) { ws.send(text); },
      close: function (code, reason) { try { ws.close(code, reason); } catch (e) { /* closed */ } },
    };
  }

  function withQuery(url, o) {
    const q = Object.assign({}, o.query || {});
    if (o.token) q.token = o.token;
    const parts = Object.keys(q).map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(q[k]); });
    if (!parts.length) return url;
    return url + (url.indexOf('?') >= 0 ? '&' : '?') + parts.join('&');
  }

  function byteLength(s) {
    if (typeof TextEncoder === 'function') return new TextEncoder().encode(s).length;
    return unescape(encodeURIComponent(s)).length;
  }

  // ---------------------------------------------------------------- the client

  function Client(url, options) {
    this.url = url;
    this.options = Object.assign({}, DEFAULTS, options || {});
    this.state = 'idle';          // idle, connecting, open, waiting (to reconnect), closed
    this.attempt = 0;             // connections tried since the last one that worked
    this.rooms = {};              // room -> {offset, epoch, extra, pending, joinedOnce}
    this.inbox = { offset: null, epoch: null, pending: null, once: false }; // the whispers to us
    this._inboxAsked = false;     // this connection's first join asked for the inbox
    this.queue = [];              // texts sent while disconnected
    this.queueBytes = 0;
    this._on = {};
    this._t = null;               // the current transport
    this._gen = 0;                // ignores events of transports replaced since
    this._timer = null;           // reconnect timer
    this._watch = null;           // heartbeat/dead check interval
    this._flushTimer = null;      // flushes the queue if a rejoin is not answered
    this._flushed = false;        // the queue was flushed on this connection
    this._lastRx = 0;
    this._pinged = false;
    this._unhook = [];
    this._hookEnvironment();
    this._connect();
  }

  Client.prototype.on = function (type, fn) {
    (this._on[type] = this._on[type] || []).push(fn);
    return this;
  };

  Client.prototype.off = function (type, fn) {
    this._on[type] = (this._on[type] || []).filter(function (f) { return f !== fn; });
    return this;
  };

  Client.prototype._emit = function (type, arg) {
    for (const fn of (this._on[type] || []).slice()) {
      try { fn.call(this, arg); } catch (e) { if (typeof console !== 'undefined') console.error(e); }
    }
  };

  // connected reports whether the socket is open now.
  Client.prototype.connected = function () { return this.state === 'open'; };

  // send sends msg (an object, sent as JSON, or a string) now, or queues it while disconnected.
  // It returns true if sent at once, false if queued; past the queue's bounds it throws.
  Client.prototype.send = function (msg) {
    if (this.state === 'closed') throw new Error('wsfleet: send on a closed client');
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
    if (this.state === 'open' && this._flushed) {
      this._t.send(text);
      return true;
    }
    const n = byteLength(text);
    const o = this.options;
    if (this.queue.length + 1 > o.maxQueue || this.queueBytes + n > o.maxQueueBytes) {
      const err = new Error('wsfleet: send queue full while disconnected (at most ' + o.maxQueue +
        ' messages and ' + o.maxQueueBytes + ' bytes; ' + this.queue.length + ' messages, ' +
        this.queueBytes + ' bytes queued)');
      this._emit('error', { message: err.message, error: err });
      throw err;
    }
    this.queue.push(text);
    this.queueBytes += n;
    return false;
  };

  // join joins room now or at the next connection, and after every reconnect; extra fields go
  // into every join message.
  Client.prototype.join = function (room, extra) {
    const r = this.rooms[room] || (this.rooms[room] = { offset: null, epoch: null, joinedOnce: false });
    r.extra = extra || null;
    if (this.state === 'open') this._sendJoin(room, r);
  };

  // leave leaves room and forgets it.
  Client.prototype.leave = function (room) {
    delete this.rooms[room];
    if (this.state === 'open') this._t.send(JSON.stringify({ type: 'leave', room: room }));
  };

  // position returns the last {offset, epoch} seen in room, or null.
  Client.prototype.position = function (room) {
    const r = this.rooms[room];
    return r && r.offset !== null ? { offset: r.offset, epoch: r.epoch } : null;
  };

  // inboxPosition returns the last {offset, epoch} of the whispers to us, or null.
  Client.prototype.inboxPosition = function () {
    const b = this.inbox;
    return b.offset !== null ? { offset: b.offset, epoch: b.epoch } : null;
  };

  // reconnect closes the connection (if any) and connects again at once.
  Client.prototype.reconnect = function () {
    if (this.state === 'closed') return;
    this.attempt = 0;
    this._drop(4000, 'reconnect', false);
    this._connect();
  };

  // close closes the connection for good: no reconnect, queued messages are dropped.
  Client.prototype.close = function (code, reason) {
    if (this.state === 'closed') return;
    this._drop(code || 1000, reason || 'bye', false);
    this.state = 'closed';
    clearTimeout(this._timer);
    this._timer = null;
    this.queue = [];
    this.queueBytes = 0;
    for (const f of this._unhook) f();
    this._unhook = [];
  };

  Client.prototype._sendJoin = function (room, r) {
    const m = Object.assign({ type: 'join', room: room }, r.extra || {});
    if (this.options.name && m.name === undefined) m.name = this.options.name;
    if (r.offset !== null) m.since = { offset: r.offset, epoch: r.epoch };
    r.pending = { rejoin: r.joinedOnce, since: m.since || null };
    if (this.options.inbox && !this._inboxAsked && m.inbox === undefined) {
      // The naming join resumes the inbox: binding and replaying in one step gets each once.
      const b = this.inbox;
      this._inboxAsked = true;
      m.inbox = b.offset !== null ? { offset: b.offset, epoch: b.epoch } : {};
      b.pending = { rejoin: b.once, since: b.offset !== null };
    }
    this._t.send(JSON.stringify(m));
  };

  Client.prototype._connect = function () {
    clearTimeout(this._timer);
    this._timer = null;
    if (this.state === 'closed') return;
    const gen = ++this._gen;
    const self = this;
    const url = withQuery(this.url, this.options);
    this.attempt++;
    this.state = 'connecting';
    this._lastRx = Date.now(); // a connection not open within deadAfter is given up too
    this._startWatch();
    this._emit('connecting', { attempt: this.attempt, url: this.url });
    const mine = function (fn) {
      return function () { if (gen === self._gen) fn.apply(self, arguments); };
    };
    try {
      this._t = (hasWx() ? wxTransport : browserTransport)(url, this.options, {
        open: mine(this._onOpen),
        message: mine(this._onMessage),
        error: mine(function (msg) { this._emit('error', { message: msg }); }),
        close: mine(function (code, reason) { this._lost(code || 1006, reason || '', false); }),
      });
    } catch (e) {
      this._emit('error', { message: String(e && e.message || e), error: e });
      this._lost(1006, String(e && e.message || e), false);
    }
  };

  Client.prototype._onOpen = function () {
    this.state = 'open';
    this._flushed = false;
    this._inboxAsked = false;
    this.inbox.pending = null;
    this._lastRx = Date.now();
    this._pinged = false;
    this._emit('connected', { attempt: this.attempt });
    if (this.state !== 'open') return; // a handler closed it
    // Rejoins first; what was queued once every rejoin is answered (a server that replays
    // history may answer a join later than the messages after it), or after `heartbeat` ms
    // (a join refused gets an error, which does not say which join it answers).
    const rooms = Object.keys(this.rooms);
    for (const room of rooms) this._sendJoin(room, this.rooms[room]);
    if (!rooms.length) { this._flush(); return; }
    const self = this;
    const gen = this._gen;
    this._flushTimer = setTimeout(function () { if (gen === self._gen) self._flush(); }, this.options.heartbeat);
  };

  // _flush sends what was queued, in order, once per connection.
  Client.prototype._flush = function () {
    clearTimeout(this._flushTimer);
    this._flushTimer = null;
    if (this.state !== 'open') return;
    const q = this.queue;
    this.queue = [];
    this.queueBytes = 0;
    this._flushed = true;
    for (const text of q) this._t.send(text);
  };

  Client.prototype._startWatch = function () {
    const self = this;
    const period = Math.max(50, Math.min(this.options.heartbeat, this.options.deadAfter) / 10);
    clearInterval(this._watch);
    this._watch = setInterval(function () { self._check(); }, period);
  };

  Client.prototype._check = function () {
    if (this.state !== 'open' && this.state !== 'connecting') return;
    const idle = Date.now() - this._lastRx;
    if (idle >= this.options.deadAfter) {
      this._drop(4000, (this.state === 'open' ? 'no frame for ' : 'not open after ') + idle + ' ms', true);
      return;
    }
    if (this.state !== 'open') return;
    if (idle >= this.options.heartbeat && !this._pinged) {
      this._pinged = true;
      this._t.send(JSON.stringify(this.options.ping));
    }
  };

  Client.prototype._onMessage = function (data) {
    this._lastRx = Date.now();
    this._pinged = false;
    this.attempt = 0; // the server talks to us: the back-off starts over
    if (typeof data !== 'string') {
      this._emit('message', data);
      return;
    }
    let m;
    try { m = JSON.parse(data); } catch (e) {
      this._emit('error', { message: 'wsfleet: a message that is not JSON: ' + data.slice(0, 100) });
      return;
    }
    if (m && m.type === 'whisper' && typeof m.offset === 'number') {
      const b = this.inbox;
      if (b.offset !== null && m.epoch === b.epoch && m.offset <= b.offset) return; // seen
      b.offset = m.offset;
      b.epoch = m.epoch === undefined ? null : m.epoch;
    }
    if (m && m.type === 'inbox' && this.inbox.pending) {
      const b = this.inbox;
      const p = b.pending;
      b.pending = null;
      b.once = true;
      if (typeof m.offset === 'number' && (b.offset === null || m.epoch !== b.epoch || m.offset > b.offset)) {
        b.offset = m.offset;
        b.epoch = m.epoch === undefined ? null : m.epoch;
      }
      this._emit('message', m);
      const recovered = m.recovered === true;
      this._emit('inbox', { recovered: recovered, resumed: p.since, message: m });
      // An answer without a position: the server keeps no history for us, so there is nothing to
      // recover and no gap to report (whispers then come live only).
      if (p.rejoin && !recovered && typeof m.offset === 'number') this._emit('recovered', { inbox: true, recovered: false, message: m });
      return;
    }
    const r = m && typeof m.room === 'string' ? this.rooms[m.room] : null;
    if (r && m.type === 'said' && typeof m.offset === 'number') {
      if (r.offset !== null && m.epoch === r.epoch && m.offset <= r.offset) return; // seen
      r.offset = m.offset;
      r.epoch = m.epoch === undefined ? null : m.epoch;
    }
    // Our join's answer: the first "joined" in the room with our name (with any name when the
    // token names us).
    const expect = r && ((r.extra && r.extra.name) || this.options.name);
    if (r && m.type === 'joined' && r.pending && (!expect || m.name === expect)) {
      const p = r.pending;
      r.pending = null;
      r.joinedOnce = true;
      // The answer to our join carries the room's position when it keeps history; a position
      // from before the gap is kept (the server sent what we missed since it).
      if (typeof m.offset === 'number' && (r.offset === null || m.epoch !== r.epoch || m.offset > r.offset)) {
        r.offset = m.offset;
        r.epoch = m.epoch === undefined ? null : m.epoch;
      }
      this._emit('message', m);
      const recovered = m.recovered === true;
      this._emit('joined', { room: m.room, recovered: recovered, resumed: !!p.since, message: m });
      if (p.rejoin && !recovered) this._emit('recovered', { room: m.room, recovered: false, message: m });
      if (!this._flushed && this.state === 'open' && !this._pendingJoins()) this._flush();
      return;
    }
    this._emit('message', m);
  };

  Client.prototype._pendingJoins = function () {
    const self = this;
    return Object.keys(this.rooms).some(function (room) { return !!self.rooms[room].pending; });
  };

  // _drop closes the current transport, ignoring its later events, and reports the loss.
  Client.prototype._drop = function (code, reason, dead) {
    const t = this._t;
    const was = this.state;
    this._gen++;
    this._t = null;
    if (t) t.close(dead ? 4000 : (code >= 3000 || code === 1000 ? code : 1000), reason.slice(0, 100));
    if (was === 'open' || was === 'connecting') this._lost(code, reason, dead, true);
  };

  // _lost reports a lost connection and schedules the next one.
  Client.prototype._lost = function (code, reason, dead, dropped) {
    if (!dropped) { this._gen++; this._t = null; }
    clearInterval(this._watch);
    this._watch = null;
    clearTimeout(this._flushTimer);
    this._flushTimer = null;
    this._flushed = false;
    for (const room of Object.keys(this.rooms)) this.rooms[room].pending = null;
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'waiting';
    this._emit('disconnected', { code: code, reason: reason, dead: !!dead, wasOpen: wasOpen });
    if (this.state !== 'waiting') return; // a handler closed or reconnected
    const o = this.options;
    const d = Math.min(o.maxDelay, o.minDelay * Math.pow(2, Math.max(0, this.attempt - 1)));
    const self = this;
    clearTimeout(this._timer);
    this._timer = setTimeout(function () { self._connect(); }, d * (0.5 + Math.random() / 2));
  };

  // _wake connects at once if waiting to reconnect, and checks an open connection with a ping.
  Client.prototype._wake = function (why) {
    if (this.state === 'waiting') {
      this.attempt = 0;
      this._connect();
    } else if (this.state === 'open' && !this._pinged) {
      this._pinged = true;
      this._t.send(JSON.stringify(this.options.ping));
    }
  };

  Client.prototype._hookEnvironment = function () {
    const self = this;
    if (hasWx() && typeof wx.onAppShow === 'function') {
      const fn = function () { self._wake('appShow'); };
      wx.onAppShow(fn);
      if (typeof wx.offAppShow === 'function') this._unhook.push(function () { wx.offAppShow(fn); });
      if (typeof wx.onNetworkStatusChange === 'function') {
        const net = function (res) { if (res && res.isConnected) self._wake('network'); };
        wx.onNetworkStatusChange(net);
        if (typeof wx.offNetworkStatusChange === 'function') this._unhook.push(function () { wx.offNetworkStatusChange(net); });
      }
    }
    if (typeof root.addEventListener === 'function') {
      const online = function () { self._wake('online'); };
      const visible = function () { if (root.document && root.document.visibilityState === 'visible') self._wake('visible'); };
      root.addEventListener('online', online);
      if (root.document) root.document.addEventListener('visibilitychange', visible);
      this._unhook.push(function () {
        root.removeEventListener('online', online);
        if (root.document) root.document.removeEventListener('visibilitychange', visible);
      });
    }
  };

  return {
    // connect makes a client and starts connecting; see the top of this file for options.
    connect: function (url, options) { return new Client(url, options); },
    Client: Client,
    defaults: DEFAULTS,
  };
});
