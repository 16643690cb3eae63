// pages/chat/chat.js: a chat room on the chat app (-app chat), built on wsfleet.js, which
// reconnects, rejoins the room since the last message seen and queues what is said meanwhile.
// Copy web/wsfleet.js next to app.js. onLoad's query: name, room (and, for tests, heartbeat,
// deadAfter, minDelay in ms).
const wsfleet = require('../../wsfleet.js')

const MAX_LINES = 500

Page({
  data: {
    status: 'connecting',
    room: '',
    name: '',
    text: '',
    lines: []
  },

  onLoad(query) {
    const name = query.name || 'guest' + Math.floor(Math.random() * 10000)
    const room = query.room || 'lobby'
    const opts = { name: name }
    for (const k of ['heartbeat', 'deadAfter', 'minDelay', 'maxDelay']) {
      if (query[k]) opts[k] = Number(query[k])
    }
    this.log = [] // every library event, for tests and debugging
    this.seq = 0
    this.setData({ name: name, room: room })
    const c = wsfleet.connect(getApp().globalData.socketUrl, opts)
    this.client = c
    const note = (type, detail) => this.log.push({ type: type, detail: detail, time: Date.now() })
    c.on('connecting', (e) => { note('connecting', e); this.setData({ status: 'connecting' }) })
    c.on('connected', (e) => { note('connected', e); this.setData({ status: 'open' }) })
    c.on('disconnected', (e) => {
      note('disconnected', e)
      this.setData({ status: 'closed ' + e.code + (e.dead ? ' (no answer)' : '') })
    })
    c.on('error', (e) => note('error', e.message))
    c.on('joined', (e) => note('joined', { room: e.room, recovered: e.recovered, resumed: e.resumed }))
    c.on('inbox', (e) => note('inbox', { recovered: e.recovered, resumed: e.resumed }))
    c.on('recovered', (e) => {
      note('recovered', { room: e.room, inbox: !!e.inbox, recovered: e.recovered })
      // What was said meanwhile may be incomplete: say so (a real page reloads its state).
      this.add({ type: 'gap', text: 'some messages may be missing' })
    })
    c.on('message', (m) => this.onChat(m))
    c.join(room)
  },

  onUnload() {
    if (this.client) this.client.close()
  },

  onChat(m) {
    if (!m || m.room !== undefined && m.room !== this.data.room) return
    switch (m.type) {
      case 'said':
        this.add({ type: 'said', from: m.from, text: m.text, offset: m.offset === undefined ? '' : String(m.offset), mine: m.from === this.data.name })
        break
      case 'whisper': // to us, kept and resumed like the room's said (the library's inbox)
        this.add({ type: 'whisper', from: m.from, text: m.text, offset: m.offset === undefined ? '' : String(m.offset) })
        break
      case 'joined':
      case 'left':
        this.add({ type: m.type, from: m.name, text: m.name + (m.type === 'joined' ? ' joined' : ' left') })
        break
      case 'error':
        this.add({ type: 'error', text: m.error })
        break
    }
  },

  add(line) {
    line.key = ++this.seq
    const lines = this.data.lines.concat([line]).slice(-MAX_LINES)
    this.setData({ lines: lines })
  },

  input(e) {
    this.setData({ text: e.detail.value })
  },

  say() {
    const text = this.data.text
    if (!text) return
    try {
      this.client.send({ type: 'say', room: this.data.room, text: text })
      this.setData({ text: '' })
    } catch (err) {
      wx.showToast({ title: 'not sent: offline too long', icon: 'none' })
    }
  }
})
