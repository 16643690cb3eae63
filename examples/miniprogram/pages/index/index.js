// pages/index/index.js
//
// The tutorial's final page: connect to / disconnect from a WebSocket server, send what was
// typed, show the connection status and the last server message, and a toast on every message.
// It uses the legacy global socket API (wx.connectSocket, wx.onSocket*, wx.sendSocketMessage,
// wx.closeSocket), as the tutorial does: that API drives the socket of the latest
// wx.connectSocket call.

Page({
  data: {
    status: '未連接',
    message: ''
  },

  // What the user typed. Nothing renders it, so it lives on the page, not in data.
  inputValue: '',

  // 'closed', 'connecting' or 'open': the state of our socket as far as this page knows.
  socketState: 'closed',

  onLoad(options) {
    // Register the socket listeners once, here. The tutorial calls wx.onSocketOpen in connect()
    // and wx.onSocketClose in close(), that is again on every tap; each call installs its
    // listener anew (depending on the base library version it replaces the previous one or
    // adds one more), and a listener installed after the event has already fired misses it.
    // The wx.onSocket* listeners do not belong to one socket: registered before wx.connectSocket,
    // they apply to the socket it opens later, and to the next one after a reconnect.
    wx.onSocketOpen(() => {
      this.socketState = 'open'
      this.setData({ status: 'websocket連接服務器成功' })
    })

    wx.onSocketMessage((res) => {
      const text = typeof res.data === 'string'
        ? res.data
        : '[二進制消息 ' + res.data.byteLength + ' 字節]'
      this.setData({ message: text })
      wx.showToast({
        title: '你收到來自服務器的消息',
        icon: 'none',
        duration: 2000
      })
    })

    wx.onSocketClose((res) => {
      this.socketState = 'closed'
      console.log('socket closed', res.code, res.reason)
      this.setData({ status: 'websocket服務器已經斷開' })
    })

    wx.onSocketError((res) => {
      console.warn('socket error', res.errMsg)
      this.setData({ status: 'websocket連接出錯' })
    })
  },

  onUnload() {
    if (this.socketState !== 'closed') {
      // Nothing to report if it is already closing.
      wx.closeSocket({ fail() {} })
    }
  },

  connect() {
    if (this.socketState !== 'closed') {
      wx.showToast({ title: '已經連接了', icon: 'none', duration: 1000 })
      return
    }
    this.socketState = 'connecting'
    wx.connectSocket({
      url: getApp().globalData.socketUrl,
      // success only means the request was accepted; wx.onSocketOpen tells when it is open.
      success: () => {
        if (this.socketState === 'connecting') {
          this.setData({ status: '正在連接服務器' })
        }
      },
      fail: (res) => {
        console.warn('connectSocket failed', res.errMsg)
        this.socketState = 'closed'
        this.setData({ status: '連接服務器失敗' })
      }
    })
  },

  close() {
    wx.closeSocket({
      fail: () => {
        wx.showToast({ title: '還沒有連接', icon: 'none', duration: 1000 })
      }
    })
  },

  send() {
    const data = this.inputValue
    if (!data) {
      wx.showToast({ title: '請先輸入內容', icon: 'none', duration: 1000 })
      return
    }
    wx.sendSocketMessage({
      data: data,
      success: () => {
        console.log('發送信息', data)
        wx.showToast({
          title: '已發送',
          icon: 'success',
          duration: 1000
        })
      },
      fail: (res) => {
        console.warn('sendSocketMessage failed', res.errMsg)
        this.setData({ status: '請連接服務器' })
      }
    })
  },

  // bindinput and bindblur: keep the latest text of the input.
  input(e) {
    this.inputValue = e.detail.value
  }
})
