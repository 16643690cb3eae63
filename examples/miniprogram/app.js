// app.js
App({
  globalData: {
    // EDIT HERE: the address of your wsfleet server, as the mini-program reaches it.
    // Real devices only accept wss:// on a domain listed under 开发管理 > 服务器域名 > socket合法域名
    // (in the tutorial, nginx terminates TLS on 443 and proxies to wsfleet on 127.0.0.1:8080).
    // In WeChat devtools with 不校验合法域名 ("urlCheck": false) you may use ws://127.0.0.1:8080 instead.
    socketUrl: 'wss://your.domain.example'
  },

  onLaunch() {
    console.log('wsfleet mini-program started, socket server:', this.globalData.socketUrl)
  }
})
