/*
 * wxml.js: a small WXML renderer and WXSS converter for the wx shim (web/wx.js).
 *
 *   const tpl = WXML.compile(wxmlSource)          parse once
 *   const view = WXML.createView(tpl, rootElement, { onEvent(methodName, event) { ... } })
 *   view.render(data)                              first render, and again after every setData
 *   WXML.wxss(wxssSource)                          the CSS to put in a <style>
 *
 * Supported: elements view, text, button (type primary/warn/default, size mini, disabled,
 * plain), input (placeholder, value, type, password, maxlength, disabled, focus), textarea,
 * image, block, scroll-view and unknown tags (as a block); attributes id, class, style, hidden,
 * data-*; {{expression}} in text and attribute values; wx:if / wx:elif / wx:else, wx:for
 * (wx:for-item, wx:for-index); events bindtap/catchtap, bindinput, bindblur, bindfocus,
 * bindconfirm, bindtouchstart/move/end/cancel (also written bind:tap, catch:tap).
 * Re-rendering patches the DOM in place, so an input keeps its typed text and its focus; an
 * input's value is only written when the value bound in the template changes.
 * Not supported: components, template/import/include, wxs, animation.
 */
(function (global) {
  'use strict';

  // ---------------------------------------------------------------- parser

  const VOID = new Set(['input', 'image', 'import', 'include', 'icon', 'progress', 'switch', 'checkbox', 'radio', 'slider', 'wxs']);
  const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

  function decode(s) {
    return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, function (m, e) {
      if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
      return Object.prototype.hasOwnProperty.call(ENTITIES, e) ? ENTITIES[e] : m;
    });
  }

  function parse(src, file) {
    const root = { tag: '#root', attrs: [], children: [] };
    const stack = [root];
    let i = 0;
    const n = src.length;
    const where = function (pos) { return (file || 'wxml') + ':' + (src.slice(0, pos).split('\n').length); };

    while (i < n) {
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        i = end < 0 ? n : end + 3;
        continue;
      }
      if (src[i] === '<' && src[i + 1] === '/') {
        const end = src.indexOf('>', i);
        if (end < 0) throw new SyntaxError(where(i) + ': unterminated closing tag');
        const name = src.slice(i + 2, end).trim();
        let k = stack.length - 1;
        while (k > 0 && stack[k].tag !== name) k--;
        if (k > 0) stack.length = k;      // a stray </input> and the like is ignored
        else if (!VOID.has(name)) console.warn('[wxml] ' + where(i) + ': </' + name + '> closes nothing');
        i = end + 1;
        continue;
      }
      if (src[i] === '<' && /[A-Za-z]/.test(src[i + 1] || '')) {
        let j = i + 1;
        while (j < n && /[^\s/>]/.test(src[j])) j++;
        const node = { tag: src.slice(i + 1, j), attrs: [], children: [] };
        let selfClosing = false;
        for (;;) {
          while (j < n && /\s/.test(src[j])) j++;
          if (j >= n) throw new SyntaxError(where(i) + ': unterminated <' + node.tag + '>');
          if (src[j] === '>') { j++; break; }
          if (src[j] === '/' && src[j + 1] === '>') { selfClosing = true; j += 2; break; }
          let k = j;
          while (k < n && /[^\s=/>]/.test(src[k])) k++;
          const name = src.slice(j, k);
          if (!name) { j++; continue; }
          j = k;
          while (j < n && /\s/.test(src[j])) j++;
          let value = null;
          if (src[j] === '=') {
            j++;
            while (j < n && /\s/.test(src[j])) j++;
            const q = src[j];
            if (q === '"' || q === "'") {
              const end = src.indexOf(q, j + 1);
              if (end < 0) throw new SyntaxError(where(j) + ': unterminated attribute value');
              value = decode(src.slice(j + 1, end));
              j = end + 1;
            } else {
              k = j;
              while (k < n && /[^\s>]/.test(src[k]) && !(src[k] === '/' && src[k + 1] === '>')) k++;
              value = decode(src.slice(j, k));
              j = k;
            }
          }
          node.attrs.push({ name: name, value: value });
        }
        stack[stack.length - 1].children.push(node);
        if (!selfClosing && !VOID.has(node.tag)) stack.push(node);
        i = j;
        continue;
      }
      // Text, up to the next tag; a '<' inside {{ }} is part of the expression.
      let j = i;
      while (j < n) {
        if (src.startsWith('{{', j)) {
          const end = src.indexOf('}}', j + 2);
          j = end < 0 ? n : end + 2;
          continue;
        }
        if (src[j] === '<' && (src[j + 1] === '/' || src[j + 1] === '!' || /[A-Za-z]/.test(src[j + 1] || ''))) break;
        j++;
      }
      const text = src.slice(i, j);
      if (text.trim() !== '') stack[stack.length - 1].children.push({ text: decode(text) });
      i = j;
    }
    if (stack.length > 1) console.warn('[wxml] ' + (file || 'wxml') + ': <' + stack[stack.length - 1].tag + '> is not closed');
    return root;
  }

  // ---------------------------------------------------------------- bindings

  const exprCache = new Map();

  // An expression sees the page's data only (and wx:for's item and index), as in WXML: a name
  // that is not there is undefined, never a browser global.
  function compileExpr(expr) {
    let fn = exprCache.get(expr);
    if (!fn) {
      try {
        fn = new Function('__scope', 'with (__scope) { return (' + expr + '); }');
      } catch (e) {
        console.warn('[wxml] bad expression {{' + expr + '}}: ' + e.message);
        fn = function () { return undefined; };
      }
      exprCache.set(expr, fn);
    }
    return fn;
  }

  function scopeProxy(scope) {
    return new Proxy(scope, {
      has: function (t, k) { return typeof k === 'string'; },
      get: function (t, k) { return k === Symbol.unscopables ? undefined : t[k]; },
    });
  }

  function evalExpr(expr, proxy) {
    try { return compileExpr(expr)(proxy); } catch (e) { return undefined; }
  }

  // 'a {{x}} b' -> parts; a value that is exactly one {{expr}} keeps its type.
  function compileValue(str) {
    if (str === null) return { constant: true, value: true };
    const parts = [];
    const re = /\{\{([\s\S]*?)\}\}/g;
    let last = 0, m;
    while ((m = re.exec(str))) {
      if (m.index > last) parts.push(str.slice(last, m.index));
      parts.push({ expr: m[1].trim() });
      last = re.lastIndex;
    }
    if (last < str.length) parts.push(str.slice(last));
    if (parts.length === 0) return { constant: true, value: '' };
    if (parts.every(function (p) { return typeof p === 'string'; })) return { constant: true, value: parts.join('') };
    return { constant: false, parts: parts };
  }

  function valueOf(cv, proxy) {
    if (cv.constant) return cv.value;
    if (cv.parts.length === 1) return evalExpr(cv.parts[0].expr, proxy);
    let s = '';
    for (const p of cv.parts) {
      if (typeof p === 'string') s += p;
      else {
        const v = evalExpr(p.expr, proxy);
        s += stringify(v);
      }
    }
    return s;
  }

  function stringify(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  // ---------------------------------------------------------------- compile

  const EVENT_RE = /^(capture-bind|capture-catch|mut-bind|bind|catch):?(.+)$/;
  let nextUid = 1;

  // Every template node gets a uid: with wx:for's key it tells, on a re-render, which DOM node
  // was made from which part of the template.
  function compileNode(node) {
    if (node.text !== undefined) return { uid: nextUid++, text: compileValue(node.text) };
    const c = { uid: nextUid++, tag: node.tag, attrs: [], events: [], children: [] };
    for (const a of node.attrs) {
      const m = EVENT_RE.exec(a.name);
      if (a.name === 'wx:if') c.if = compileValue(a.value);
      else if (a.name === 'wx:elif') c.elif = compileValue(a.value);
      else if (a.name === 'wx:else') c.else = true;
      else if (a.name === 'wx:for' || a.name === 'wx:for-items') c.for = compileValue(a.value);
      else if (a.name === 'wx:for-item') c.forItem = a.value;
      else if (a.name === 'wx:for-index') c.forIndex = a.value;
      else if (a.name === 'wx:key') c.key = a.value;
      else if (m && !/^data-/.test(a.name)) {
        c.events.push({ type: m[2], catch: /catch/.test(m[1]), handler: compileValue(a.value) });
      } else c.attrs.push({ name: a.name, value: compileValue(a.value) });
    }
    c.children = node.children.map(compileNode);
    return c;
  }

  function compile(src, opts) {
    const tree = parse(src, opts && opts.file);
    return { children: tree.children.map(compileNode) };
  }

  // ---------------------------------------------------------------- expand: template + data -> virtual nodes

  function expandList(list, scope, out, suffix) {
    suffix = suffix || '';
    let chainTaken = null;    // null: no if-chain open; true/false: an earlier branch rendered or not
    for (const c of list) {
      if (c.text) {
        chainTaken = null;
        out.push({ key: c.uid + suffix, text: stringify(valueOf(c.text, scopeProxy(scope))) });
        continue;
      }
      if (c.if) {
        chainTaken = !!valueOf(c.if, scopeProxy(scope));
        if (!chainTaken) continue;
      } else if (c.elif) {
        if (chainTaken === null || chainTaken) continue;
        chainTaken = !!valueOf(c.elif, scopeProxy(scope));
        if (!chainTaken) continue;
      } else if (c.else) {
        if (chainTaken === null || chainTaken) { chainTaken = null; continue; }
        chainTaken = null;
      } else chainTaken = null;

      if (c.for) {
        let items = valueOf(c.for, scopeProxy(scope));
        if (typeof items === 'number') items = Array.from({ length: items }, function (_, k) { return k; });
        else if (typeof items === 'string') items = items.split('');
        const entries = Array.isArray(items) ? items.map(function (v, k) { return [k, v]; })
          : (items && typeof items === 'object') ? Object.keys(items).map(function (k) { return [k, items[k]]; }) : [];
        const seen = new Set();
        for (const e of entries) {
          const s = Object.create(scope);
          s[c.forIndex || 'index'] = e[0];
          s[c.forItem || 'item'] = e[1];
          // wx:key="field" or wx:key="*this" keeps a DOM node with its item when the list changes.
          let k = e[0];
          if (c.key === '*this') k = e[1];
          else if (c.key && e[1] && typeof e[1] === 'object') k = e[1][c.key];
          k = String(k);
          if (seen.has(k)) k = 'i' + e[0];
          seen.add(k);
          expandElement(c, s, out, suffix + '#' + k);
        }
      } else expandElement(c, scope, out, suffix);
    }
    return out;
  }

  function expandElement(c, scope, out, suffix) {
    if (c.tag === 'block') { expandList(c.children, scope, out, suffix); return; }
    const proxy = scopeProxy(scope);
    const v = { key: c.uid + suffix, tag: c.tag, attrs: {}, dataset: {}, events: {}, children: [] };
    for (const a of c.attrs) {
      const val = valueOf(a.value, proxy);
      if (/^data-/.test(a.name)) {
        v.dataset[a.name.slice(5).replace(/-([a-z])/g, function (_, ch) { return ch.toUpperCase(); })] = val;
      } else v.attrs[a.name] = val;
    }
    for (const e of c.events) {
      const h = stringify(valueOf(e.handler, proxy));
      if (h) v.events[e.type] = { handler: h, catch: e.catch };
    }
    expandList(c.children, scope, v.children);
    out.push(v);
  }

  // ---------------------------------------------------------------- rpx and styles

  const RPX_RE = /(-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?)rpx\b/gi;

  function convertRpx(css) {
    return css.replace(RPX_RE, function (_, num) { return 'calc(' + num + ' * var(--wx-rpx, 0.5px))'; });
  }

  // ---------------------------------------------------------------- DOM

  const DOM_TAG = {
    view: 'div', text: 'span', button: 'button', input: 'input', textarea: 'textarea', image: 'img',
    label: 'label', navigator: 'a', 'rich-text': 'div', icon: 'i',
  };

  const DOM_EVENT = {
    tap: 'click', input: 'input', blur: 'blur', focus: 'focus', confirm: 'keydown',
    touchstart: 'pointerdown', touchmove: 'pointermove', touchend: 'pointerup', touchcancel: 'pointercancel',
    longpress: 'contextmenu', longtap: 'contextmenu',
  };

  function createElement(v) {
    const el = document.createElement(DOM_TAG[v.tag] || 'div');
    el.__wx = { tag: v.tag, attrs: {}, events: {}, dataset: {}, listening: {}, lastValue: undefined, lastFocus: false };
    return el;
  }

  function setAttr(el, name, value) {
    if (value === undefined || value === null || value === false) el.removeAttribute(name);
    else el.setAttribute(name, value === true ? '' : String(value));
  }

  const KNOWN = new Set(['id', 'class', 'style', 'hidden', 'type', 'size', 'disabled', 'plain', 'loading', 'placeholder',
    'value', 'password', 'maxlength', 'focus', 'src', 'mode', 'hover-class', 'placeholder-class', 'placeholder-style',
    'confirm-type', 'auto-focus', 'user-select', 'selectable', 'decode', 'space', 'form-type', 'open-type', 'scroll-y', 'scroll-x']);

  function truthy(v) { return v !== undefined && v !== null && v !== false && v !== 'false' && v !== 0; }

  function updateElement(el, v, host) {
    const st = el.__wx;
    const a = v.attrs;
    setAttr(el, 'id', a.id === '' ? undefined : a.id);
    const cls = ['wx-' + v.tag];
    if (a.class) cls.push(stringify(a.class));
    el.className = cls.join(' ');
    const style = a.style ? convertRpx(stringify(a.style)) : '';
    if ((el.getAttribute('style') || '') !== style) {
      if (style) el.setAttribute('style', style); else el.removeAttribute('style');
    }
    setAttr(el, 'hidden', truthy(a.hidden) ? true : undefined);
    for (const k of Object.keys(v.dataset)) setAttr(el, 'data-' + k.replace(/[A-Z]/g, function (ch) { return '-' + ch.toLowerCase(); }), stringify(v.dataset[k]));
    for (const k of Object.keys(st.dataset)) {
      if (!(k in v.dataset)) el.removeAttribute('data-' + k.replace(/[A-Z]/g, function (ch) { return '-' + ch.toLowerCase(); }));
    }
    // Other attributes are kept on the element as written, for CSS and for tests.
    for (const k of Object.keys(a)) {
      if (!KNOWN.has(k) && /^[a-z][a-z0-9-]*$/i.test(k)) setAttr(el, k, a[k] === '' ? true : a[k]);
    }

    switch (v.tag) {
      case 'button': {
        const type = ['primary', 'warn'].indexOf(a.type) >= 0 ? a.type : 'default';
        el.dataset.type = type;
        // As written, so that WXSS like button[type=primary] applies (outside a <form> an
        // unknown type does nothing).
        setAttr(el, 'type', a.type === undefined ? undefined : stringify(a.type));
        setAttr(el, 'data-size', a.size === 'mini' ? 'mini' : undefined);
        setAttr(el, 'data-plain', truthy(a.plain) ? true : undefined);
        setAttr(el, 'data-loading', truthy(a.loading) ? true : undefined);
        el.disabled = truthy(a.disabled);
        break;
      }
      case 'input':
      case 'textarea': {
        if (v.tag === 'input') {
          const t = truthy(a.password) || a.type === 'safe-password' ? 'password' : 'text';
          if (el.type !== t) el.type = t;
          if (a.type === 'number' || a.type === 'digit' || a.type === 'idcard') el.inputMode = a.type === 'digit' ? 'decimal' : a.type === 'number' ? 'numeric' : 'text';
          el.enterKeyHint = a['confirm-type'] || 'done';
        }
        setAttr(el, 'placeholder', a.placeholder === undefined ? undefined : stringify(a.placeholder));
        const max = a.maxlength === undefined ? 140 : Number(a.maxlength);
        if (max >= 0) el.maxLength = max; else el.removeAttribute('maxlength');
        el.disabled = truthy(a.disabled);
        // Write the value only when the template's value changes: re-rendering for an
        // unrelated setData must not wipe what the user typed.
        const value = a.value === undefined ? undefined : stringify(a.value);
        if (value !== st.lastValue) {
          if (value !== undefined && el.value !== value) el.value = value;
          st.lastValue = value;
        }
        const focus = truthy(a.focus) || truthy(a['auto-focus']);
        if (focus && !st.lastFocus) queueMicrotask(function () { el.focus(); });
        st.lastFocus = focus;
        break;
      }
      case 'image': {
        setAttr(el, 'src', a.src ? stringify(a.src) : undefined);
        el.dataset.mode = a.mode || 'scaleToFill';
        el.alt = '';
        break;
      }
      case 'text':
        setAttr(el, 'data-selectable', truthy(a['user-select']) || truthy(a.selectable) ? true : undefined);
        break;
      default:
        break;
    }

    st.attrs = a;
    st.dataset = v.dataset;
    st.events = v.events;
    for (const type of Object.keys(v.events)) listen(el, type, host);
    patchChildren(el, v.children, host);
  }

  function targetInfo(el) {
    const st = el.__wx || {};
    return {
      id: el.id || '',
      dataset: Object.assign({}, st.dataset || {}),
      offsetLeft: el.offsetLeft || 0,
      offsetTop: el.offsetTop || 0,
    };
  }

  function wxTarget(node) {
    while (node && !node.__wx) node = node.parentNode;
    return node;
  }

  function listen(el, type, host) {
    const st = el.__wx;
    if (st.listening[type]) return;
    const domType = DOM_EVENT[type] || type;
    st.listening[type] = true;
    el.addEventListener(domType, function (ev) {
      const spec = st.events[type];
      if (!spec) return;
      if (type === 'confirm' && ev.key !== 'Enter') return;
      if (type === 'longpress' || type === 'longtap') ev.preventDefault();
      if (spec.catch) ev.stopPropagation();
      let detail = {};
      if (type === 'tap') {
        detail = { x: ev.pageX, y: ev.pageY };
      } else if (type === 'input') {
        detail = { value: el.value, cursor: el.selectionStart, keyCode: ev.data ? ev.data.charCodeAt(0) : 8 };
      } else if (type === 'blur' || type === 'confirm') {
        detail = { value: el.value, cursor: el.selectionStart };
      } else if (type === 'focus') {
        detail = { value: el.value, height: 0 };
      }
      const t = wxTarget(ev.target) || el;
      const touches = ev.pointerId !== undefined ? [{ identifier: ev.pointerId, pageX: ev.pageX, pageY: ev.pageY, clientX: ev.clientX, clientY: ev.clientY }] : [];
      const event = {
        type: type,
        timeStamp: Math.round(ev.timeStamp),
        target: targetInfo(t),
        currentTarget: targetInfo(el),
        detail: detail,
        mark: {},
        touches: touches,
        changedTouches: touches,
      };
      const ret = host.onEvent(spec.handler, event);
      // bindinput may return a string (or {value}) that replaces the input's text.
      if (type === 'input' && ret !== undefined) {
        const nv = ret && typeof ret === 'object' ? ret.value : ret;
        if (nv !== undefined && String(nv) !== el.value) el.value = String(nv);
      }
    });
  }

  function sameKind(node, v) {
    if (v.text !== undefined) return node.nodeType === 3;
    return node.nodeType === 1 && node.__wx && node.__wx.tag === v.tag;
  }

  // Reuse the DOM node made from the same template node (and wx:for item) last time. Nodes
  // that are not reused are removed first, so that the ones kept stay where they are: moving
  // an element would take the focus away from an input.
  function patchChildren(parent, vchildren, host) {
    const old = new Map();
    for (const node of Array.from(parent.childNodes)) {
      if (node.__wxKey !== undefined && !old.has(node.__wxKey)) old.set(node.__wxKey, node);
      else parent.removeChild(node);
    }
    const reuse = new Map();
    for (const v of vchildren) {
      const node = old.get(v.key);
      if (node && sameKind(node, v) && !reuse.has(v.key)) reuse.set(v.key, node);
    }
    for (const node of old.values()) {
      if (reuse.get(node.__wxKey) !== node) parent.removeChild(node);
    }
    let cursor = parent.firstChild;
    for (const v of vchildren) {
      let node = reuse.get(v.key);
      reuse.delete(v.key);
      if (!node) {
        node = v.text !== undefined ? document.createTextNode(v.text) : createElement(v);
        node.__wxKey = v.key;
      }
      if (node === cursor) cursor = cursor.nextSibling;
      else parent.insertBefore(node, cursor);
      if (v.text !== undefined) {
        if (node.data !== v.text) node.data = v.text;
      } else updateElement(node, v, host);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      parent.removeChild(cursor);
      cursor = next;
    }
  }

  // ---------------------------------------------------------------- default component styles

  const BASE_CSS = [
    '.wx-page{display:block;box-sizing:border-box;min-height:100%;--wx-rpx:0.5px;font-size:16px;line-height:1.4;color:#000;',
    'font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Noto Sans CJK TC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;',
    '-webkit-tap-highlight-color:transparent;-webkit-text-size-adjust:100%}',
    '.wx-page [hidden]{display:none!important}',
    '.wx-view,.wx-scroll-view,.wx-swiper,.wx-swiper-item,.wx-form,.wx-rich-text{display:block}',
    '.wx-scroll-view{overflow:auto}',
    '.wx-text{display:inline;white-space:pre-wrap;user-select:none}',
    '.wx-text[data-selectable]{user-select:text}',
    '.wx-button{position:relative;display:block;box-sizing:border-box;width:100%;margin:0 auto;padding:0 14px;',
    'border:1px solid rgba(0,0,0,.2);border-radius:5px;font:inherit;font-size:18px;line-height:2.55555556;',
    'text-align:center;text-decoration:none;overflow:hidden;color:#000;background-color:#f8f8f8;cursor:pointer;',
    '-webkit-appearance:none;appearance:none;outline:none}',
    '.wx-button:active{color:rgba(0,0,0,.6);background-color:#dedede}',
    '.wx-button[data-type=primary]{color:#fff;background-color:#1aad19}',
    '.wx-button[data-type=primary]:active{color:rgba(255,255,255,.6);background-color:#179b16}',
    '.wx-button[data-type=warn]{color:#fff;background-color:#e64340}',
    '.wx-button[data-type=warn]:active{color:rgba(255,255,255,.6);background-color:#ce3c39}',
    '.wx-button[data-size=mini]{display:inline-block;width:auto;line-height:2.3;font-size:13px;padding:0 1.34em}',
    '.wx-button[data-plain]{background-color:transparent;color:#353535;border-color:#353535}',
    '.wx-button[data-plain][data-type=primary]{color:#1aad19;border-color:#1aad19}',
    '.wx-button[data-plain][data-type=warn]{color:#e64340;border-color:#e64340}',
    '.wx-button:disabled{color:rgba(0,0,0,.3);background-color:#f7f7f7;cursor:default}',
    '.wx-button[data-type=primary]:disabled{color:rgba(255,255,255,.6);background-color:#9ed99d}',
    '.wx-button[data-type=warn]:disabled{color:rgba(255,255,255,.6);background-color:#ec8b89}',
    '.wx-button[data-loading]::before{content:"";display:inline-block;width:1em;height:1em;margin-right:.5em;vertical-align:-.15em;',
    'border:2px solid currentColor;border-right-color:transparent;border-radius:50%;animation:wx-spin 1s linear infinite}',
    '@keyframes wx-spin{to{transform:rotate(360deg)}}',
    '.wx-input{display:block;box-sizing:border-box;width:100%;height:1.4em;min-height:1.4em;margin:0;padding:0;border:0;',
    'outline:none;background:transparent;font:inherit;color:inherit;text-overflow:clip;white-space:nowrap}',
    '.wx-input::placeholder,.wx-textarea::placeholder{color:#808080}',
    '.wx-textarea{display:block;box-sizing:border-box;width:300px;height:150px;margin:0;padding:0;border:0;outline:none;',
    'background:transparent;font:inherit;color:inherit;resize:none}',
    '.wx-image{display:inline-block;width:320px;height:240px;object-fit:fill}',
    '.wx-image[data-mode=aspectFit]{object-fit:contain}',
    '.wx-image[data-mode=aspectFill]{object-fit:cover}',
  ].join('\n');

  function installBaseCss() {
    if (document.getElementById('wxml-base-style')) return;
    const style = document.createElement('style');
    style.id = 'wxml-base-style';
    style.textContent = BASE_CSS;
    document.head.insertBefore(style, document.head.firstChild);
  }

  function createView(tpl, root, host) {
    installBaseCss();
    root.classList.add('wx-page');
    root.textContent = '';
    // 750rpx = the page's width.
    const setRpx = function () {
      const w = root.clientWidth || global.innerWidth;
      root.style.setProperty('--wx-rpx', (w / 750) + 'px');
    };
    setRpx();
    if (global.ResizeObserver) new ResizeObserver(setRpx).observe(root);
    else global.addEventListener('resize', setRpx);
    return {
      render: function (data) {
        const vnodes = expandList(tpl.children, data, []);
        patchChildren(root, vnodes, host);
      },
    };
  }

  // ---------------------------------------------------------------- WXSS

  const TAGS = ['page', 'view', 'text', 'button', 'input', 'textarea', 'image', 'scroll-view', 'swiper-item', 'swiper',
    'navigator', 'icon', 'label', 'form', 'cover-view', 'cover-image', 'rich-text', 'progress', 'switch', 'checkbox',
    'radio', 'slider', 'picker', 'block'];
  const TAG_RE = new RegExp('(^|[\\s,>+~(])(' + TAGS.join('|') + ')(?![\\w-])', 'g');

  function splitTop(s, sep) {
    const out = [];
    let depth = 0, quote = null, start = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (quote) { if (ch === quote && s[i - 1] !== '\\') quote = null; continue; }
      if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '(' || ch === '[') depth++;
      else if (ch === ')' || ch === ']') depth--;
      else if (ch === sep && depth === 0) { out.push(s.slice(start, i)); start = i + 1; }
    }
    out.push(s.slice(start));
    return out;
  }

  function rewriteSelector(sel) {
    sel = sel.trim();
    if (!sel) return sel;
    const r = sel.replace(TAG_RE, function (_, pre, tag) { return pre + (tag === 'page' ? '.wx-page' : '.wx-' + tag); });
    // Keep page styles inside the page.
    return /^\.wx-page(?![\w-])/.test(r) ? r : '.wx-page ' + r;
  }

  // Statements of a style sheet: [{prelude, body}] with body null for "@import ...;".
  function statements(css) {
    const out = [];
    let i = 0;
    const n = css.length;
    while (i < n) {
      while (i < n && /\s/.test(css[i])) i++;
      if (i >= n) break;
      let j = i, quote = null;
      while (j < n) {
        const ch = css[j];
        if (quote) { if (ch === quote && css[j - 1] !== '\\') quote = null; }
        else if (ch === '"' || ch === "'") quote = ch;
        else if (ch === '{' || ch === ';' || ch === '}') break;
        j++;
      }
      const prelude = css.slice(i, j).trim();
      if (j >= n || css[j] === ';' || css[j] === '}') {
        if (prelude) out.push({ prelude: prelude, body: null });
        i = j + 1;
        continue;
      }
      let depth = 1, k = j + 1;
      quote = null;
      while (k < n && depth > 0) {
        const ch = css[k];
        if (quote) { if (ch === quote && css[k - 1] !== '\\') quote = null; }
        else if (ch === '"' || ch === "'") quote = ch;
        else if (ch === '{') depth++;
        else if (ch === '}') depth--;
        k++;
      }
      out.push({ prelude: prelude, body: css.slice(j + 1, k - 1) });
      i = k;
    }
    return out;
  }

  function convertSheet(css, file) {
    const out = [];
    for (const st of statements(css)) {
      const p = st.prelude;
      if (st.body === null) {
        if (/^@import\b/i.test(p)) console.warn('[wxss] ' + (file || '') + ': ' + p + ' is not supported, dropped');
        else if (/^@charset\b/i.test(p)) out.push(p + ';');
        continue;
      }
      if (/^@(media|supports)\b/i.test(p)) out.push(p + '{' + convertSheet(st.body, file) + '}');
      else if (/^@(-webkit-)?keyframes\b/i.test(p)) out.push(p + '{' + convertRpx(st.body) + '}');
      else if (/^@font-face\b/i.test(p)) out.push(p + '{' + st.body + '}');
      else if (p[0] === '@') console.warn('[wxss] ' + (file || '') + ': ' + p.split(/\s/)[0] + ' is not supported, dropped');
      else out.push(splitTop(p, ',').map(rewriteSelector).join(', ') + '{' + convertRpx(st.body) + '}');
    }
    return out.join('\n');
  }

  function wxss(src, opts) {
    const css = String(src).replace(/\/\*[\s\S]*?\*\//g, '');
    return convertSheet(css, opts && opts.file);
  }

  global.WXML = {
    parse: parse,
    compile: compile,
    createView: createView,
    wxss: wxss,
    convertRpx: convertRpx,
  };
})(window);
