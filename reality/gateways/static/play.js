/* Reality's web client (/play): the game over a WebSocket, in plain JavaScript.
 *
 * It speaks telnet.mudstandards.org: every WebSocket message is a BINARY
 * frame holding exactly the bytes a telnet client would exchange with the
 * game (docs/protocols.md). A small telnet parser answers the server's
 * negotiation (TTYPE/MTTS, NAWS, CHARSET, EOR, GMCP, ECHO), GMCP fills the
 * side panel, and the text is rendered from its ANSI colour codes into
 * DOM text nodes (textContent: never parsed as HTML), with no links made from it.
 *
 * The page's Content-Security-Policy allows scripts from the site only:
 * no inline script, no eval.
 */
(function () {
  "use strict";

  // -- telnet (RFC 854 and the MUD options) ----------------------------------
  var IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, GA = 249,
      SE = 240, EOR_CMD = 239;
  var ECHO = 1, SGA = 3, TTYPE = 24, EOR = 25, NAWS = 31, CHARSET = 42, MSSP = 70,
      MCCP2 = 86, GMCP = 201;
  var TTYPE_IS = 0, TTYPE_SEND = 1;
  var CHARSET_REQUEST = 1, CHARSET_ACCEPTED = 2, CHARSET_REJECTED = 3;
  // MTTS bits (https://tintin.mudhalla.net/protocols/mtts/): ANSI, UTF-8,
  // 256 colours, true colour; 64 says that a screen reader reads the text.
  var MTTS_BASE = 1 | 4 | 8 | 256, MTTS_SCREEN_READER = 64;
  var SUBPROTOCOL = "telnet.mudstandards.org";
  var MAX_LINES = 2000, MAX_HISTORY = 100, MAX_SUB = 1 << 20;

  /* Splits the server's byte stream into data, commands and subnegotiations.
   * State survives between frames: a sequence may be cut anywhere. */
  function TelnetParser(handlers) {
    this.h = handlers;
    this.state = 0; // 0 data, 1 after IAC, 2 option of WILL/WONT/DO/DONT, 3 SB option, 4 in SB, 5 IAC in SB
    this.verb = 0;
    this.option = 0;
    this.sub = [];
  }
  TelnetParser.prototype.feed = function (bytes) {
    var start = 0, i, b, h = this.h;
    for (i = 0; i < bytes.length; i++) {
      b = bytes[i];
      switch (this.state) {
        case 0:
          if (b === IAC) {
            if (i > start) h.data(bytes.subarray(start, i));
            this.state = 1;
          }
          continue;
        case 1:
          if (b === IAC) { h.data(new Uint8Array([IAC])); this.state = 0; }
          else if (b === WILL || b === WONT || b === DO || b === DONT) { this.verb = b; this.state = 2; }
          else if (b === SB) { this.state = 3; }
          else { h.command(b); this.state = 0; }
          break;
        case 2:
          h.negotiate(this.verb, b); this.state = 0;
          break;
        case 3:
          this.option = b; this.sub = []; this.state = 4;
          break;
        case 4:
          if (b === IAC) this.state = 5;
          else if (this.sub.length < MAX_SUB) this.sub.push(b);
          break;
        case 5:
          if (b === SE) { h.subnegotiation(this.option, new Uint8Array(this.sub)); this.sub = []; this.state = 0; }
          else if (b === IAC) { if (this.sub.length < MAX_SUB) this.sub.push(IAC); this.state = 4; }
          else { this.sub = []; this.state = 0; } // malformed: drop it
          break;
      }
      start = i + 1;
    }
    if (this.state === 0 && start < bytes.length) h.data(bytes.subarray(start));
  };

  // -- ANSI SGR -> elements ------------------------------------------------------
  var XTERM_16 = ["#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
                  "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff"];
  function xterm256(n) {
    if (n < 16) return XTERM_16[n];
    if (n < 232) {
      n -= 16;
      var steps = [0, 95, 135, 175, 215, 255];
      return "rgb(" + steps[Math.floor(n / 36)] + "," + steps[Math.floor(n / 6) % 6] + "," + steps[n % 6] + ")";
    }
    var g = 8 + (n - 232) * 10;
    return "rgb(" + g + "," + g + "," + g + ")";
  }

  /* Renders text with ANSI escape codes into a container, line by line.
   * Only SGR (ESC [ ... m) changes anything; other escapes are dropped.
   * Text goes in as text nodes: markup in game text stays text. */
  function AnsiRenderer(container) {
    this.container = container;
    this.line = null;
    this.pending = ""; // an escape sequence cut by the end of a frame
    this.reset();
  }
  AnsiRenderer.prototype.reset = function () {
    this.fg = null; this.bg = null; this.bold = false; this.dim = false; this.italic = false;
    this.underline = false; this.reverse = false; this.strike = false; this.hidden = false;
  };
  AnsiRenderer.prototype.newLine = function () {
    var div = document.createElement("div");
    div.className = "line";
    this.container.appendChild(div);
    this.line = div;
    var extra = this.container.childNodes.length - MAX_LINES;
    while (extra-- > 0) this.container.removeChild(this.container.firstChild);
    return div;
  };
  AnsiRenderer.prototype.sgr = function (params) {
    var codes = params === "" ? [0] : params.split(";").map(function (p) { return p === "" ? 0 : parseInt(p, 10); });
    for (var i = 0; i < codes.length; i++) {
      var c = codes[i];
      if (c === 0) this.reset();
      else if (c === 1) this.bold = true;
      else if (c === 2) this.dim = true;
      else if (c === 3) this.italic = true;
      else if (c === 4) this.underline = true;
      else if (c === 7) this.reverse = true;
      else if (c === 8) this.hidden = true;
      else if (c === 9) this.strike = true;
      else if (c === 22) { this.bold = false; this.dim = false; }
      else if (c === 23) this.italic = false;
      else if (c === 24) this.underline = false;
      else if (c === 27) this.reverse = false;
      else if (c === 28) this.hidden = false;
      else if (c === 29) this.strike = false;
      else if (c >= 30 && c <= 37) this.fg = c - 30;
      else if (c === 39) this.fg = null;
      else if (c >= 40 && c <= 47) this.bg = c - 40;
      else if (c === 49) this.bg = null;
      else if (c >= 90 && c <= 97) this.fg = c - 90 + 8;
      else if (c >= 100 && c <= 107) this.bg = c - 100 + 8;
      else if ((c === 38 || c === 48) && codes[i + 1] === 5 && i + 2 < codes.length) {
        var n = codes[i + 2] & 255;
        if (c === 38) this.fg = n; else this.bg = n;
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2 && i + 4 < codes.length) {
        var rgb = "rgb(" + (codes[i + 2] & 255) + "," + (codes[i + 3] & 255) + "," + (codes[i + 4] & 255) + ")";
        if (c === 38) this.fg = rgb; else this.bg = rgb;
        i += 4;
      }
    }
  };
  AnsiRenderer.prototype.styled = function () {
    return this.fg !== null || this.bg !== null || this.bold || this.dim || this.italic ||
      this.underline || this.reverse || this.strike || this.hidden;
  };
  AnsiRenderer.prototype.span = function (text) {
    var line = this.line || this.newLine();
    if (!this.styled()) { line.appendChild(document.createTextNode(text)); return; }
    var span = document.createElement("span"), classes = [];
    var fg = this.reverse ? this.bg : this.fg, bg = this.reverse ? this.fg : this.bg;
    if (this.reverse && fg === null) classes.push("reverse");
    if (typeof fg === "number" && fg < 16) classes.push("fg" + fg);
    else if (typeof fg === "number") span.style.color = xterm256(fg);
    else if (typeof fg === "string") span.style.color = fg;
    if (typeof bg === "number" && bg < 16) classes.push("bg" + bg);
    else if (typeof bg === "number") span.style.backgroundColor = xterm256(bg);
    else if (typeof bg === "string") span.style.backgroundColor = bg;
    if (this.bold) classes.push("ansi-bold");
    if (this.dim) classes.push("ansi-dim");
    if (this.italic) classes.push("ansi-italic");
    if (this.underline) classes.push("ansi-underline");
    if (this.strike) classes.push("ansi-strike");
    if (this.hidden) classes.push("ansi-hidden");
    span.className = classes.join(" ");
    span.textContent = text;
    line.appendChild(span);
  };
  AnsiRenderer.prototype.write = function (text) {
    text = this.pending + text;
    this.pending = "";
    var i = 0, run = "", ch;
    while (i < text.length) {
      ch = text.charAt(i);
      if (ch === "\x1b") {
        if (run) { this.span(run); run = ""; }
        var m = /^\x1b\[([0-9;:?]*)([@-~])/.exec(text.slice(i, i + 64));
        if (m) {
          if (m[2] === "m" && m[1].indexOf("?") < 0) this.sgr(m[1].replace(/:/g, ";"));
          i += m[0].length;
          continue;
        }
        if (text.length - i < 64 && /^\x1b(\[[0-9;:?]*)?$/.test(text.slice(i))) {
          this.pending = text.slice(i); // the rest comes in the next frame
          return;
        }
        i += 1; // a lone ESC or another kind of escape: drop the ESC
        continue;
      }
      if (ch === "\n") {
        if (run) { this.span(run); run = ""; }
        if (!this.line) this.newLine();
        this.line = null;
      } else if (ch !== "\r" && ch !== "\x07" && ch !== "\0") {
        run += ch;
      }
      i += 1;
    }
    if (run) this.span(run);
  };
  /* A line the page adds itself (what the player typed, a notice). */
  AnsiRenderer.prototype.note = function (text, className) {
    if (this.line) this.line = null;
    var div = this.newLine();
    div.className = "line " + className;
    div.textContent = text;
    this.line = null;
  };

  // -- the client ----------------------------------------------------------------------
  var encoder = new TextEncoder();

  function Client(root) {
    this.root = root;
    this.output = document.getElementById("output");
    this.input = document.getElementById("command");
    this.inputLabel = document.getElementById("command-label");
    this.promptEl = document.getElementById("prompt");
    this.statusEl = document.getElementById("status");
    this.reconnectButton = document.getElementById("reconnect");
    this.srToggle = document.getElementById("screenreader");
    this.renderer = new AnsiRenderer(this.output);
    this.history = [];
    this.historyAt = 0;
    this.draft = "";
    this.masked = false;
    this.socket = null;
    this.retries = 0;
    this.retryTimer = null;
    this.everConnected = false;
    /* Client.Resume: {token, until (ms)} from the server before it closed us
       for an upgrade. Kept in memory only (not sessionStorage): it is spent
       on the next connection, and a reloaded page logs in as usual. */
    this.resume = null;
    this.resuming = false;
    this.roomId = null;
    this.mapLoaded = false;
    this.screenReader = false;
    try { this.screenReader = window.localStorage.getItem("reality.screenreader") === "on"; } catch (e) { /* private mode */ }
    this.srToggle.checked = this.screenReader;
    this.bind();
    this.connect();
  }

  Client.prototype.url = function () {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + (this.root.getAttribute("data-ws-path") || "/ws");
  };

  Client.prototype.setStatus = function (text, lost) {
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle("lost", !!lost);
  };

  Client.prototype.connect = function () {
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    this.reconnectButton.hidden = true;
    this.setStatus(this.everConnected ? "Reconnecting…" : "Connecting…");
    this.parser = new TelnetParser({
      data: this.onData.bind(this),
      command: this.onCommand.bind(this),
      negotiate: this.onNegotiate.bind(this),
      subnegotiation: this.onSubnegotiation.bind(this)
    });
    this.decoder = new TextDecoder("utf-8");
    this.ttypeSent = 0;
    this.gmcp = false;
    this.loggedIn = false;
    this.setMasked(false);
    var socket;
    try {
      socket = new WebSocket(this.url(), [SUBPROTOCOL]);
    } catch (e) {
      this.lost("The game cannot be reached.");
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    var self = this;
    socket.onopen = function () {
      if (self.socket !== socket) return;
      self.everConnected = true;
      self.retries = 0;
      self.setStatus("Connected.");
    };
    socket.onmessage = function (event) {
      if (self.socket !== socket) return;
      if (typeof event.data === "string") return; // telnet.mudstandards.org is binary only
      var stick = self.atBottom();
      self.parser.feed(new Uint8Array(event.data));
      if (stick) self.scroll(true);
    };
    socket.onclose = function (event) {
      if (self.socket !== socket) return;
      self.socket = null;
      if (self.resume !== null && self.resume.until > Date.now()) {
        self.lost("Server upgraded; reconnecting…", true);
        return;
      }
      var why = event.reason ? " (" + event.reason + ")" : "";
      self.lost("The connection to the game was lost" + why + ".");
    };
  };

  Client.prototype.lost = function (message, resuming) {
    this.flushText();
    this.setMasked(false);
    this.promptEl.textContent = "";
    if (resuming && this.retries === 0) {
      // Closed by the server with a way back in: come back at once, quietly.
      this.retries += 1;
      this.renderer.note(message, "notice");
      this.scroll(true);
      this.setStatus(message, true);
      this.retryTimer = setTimeout(this.connect.bind(this), 200);
      return;
    }
    var delay = Math.min(30, Math.pow(2, this.retries));
    this.retries += 1;
    this.renderer.note(message + " Reconnecting in " + delay + " s; press Reconnect to try now.", "notice");
    this.scroll(true);
    this.setStatus("Disconnected: reconnecting in " + delay + " s.", true);
    this.reconnectButton.hidden = false;
    this.retryTimer = setTimeout(this.connect.bind(this), delay * 1000);
  };

  Client.prototype.sendBytes = function (bytes) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  };
  Client.prototype.sendCommand = function (verb, option) {
    this.sendBytes(new Uint8Array([IAC, verb, option]));
  };
  Client.prototype.sendSub = function (option, payload) {
    var out = [IAC, SB, option];
    for (var i = 0; i < payload.length; i++) {
      out.push(payload[i]);
      if (payload[i] === IAC) out.push(IAC);
    }
    out.push(IAC, SE);
    this.sendBytes(new Uint8Array(out));
  };
  Client.prototype.sendGmcp = function (pkg, data) {
    var text = data === undefined ? pkg : pkg + " " + JSON.stringify(data);
    this.sendSub(GMCP, encoder.encode(text));
  };
  Client.prototype.sendLine = function (text) {
    this.sendBytes(encoder.encode(text + "\r\n"));
  };

  Client.prototype.onNegotiate = function (verb, option) {
    if (verb === WILL) {
      if (option === ECHO) { this.setMasked(true); this.sendCommand(DO, ECHO); }
      else if (option === GMCP) {
        this.gmcp = true;
        this.sendCommand(DO, GMCP);
        this.sendGmcp("Core.Hello", { client: "Reality web client", version: "1" });
        this.sendGmcp("Core.Supports.Set", ["Core 1", "Char 1", "Room 1", "Client.Resume 1"]);
        var resume = this.resume;
        this.resume = null;
        if (resume !== null && resume.until > Date.now()) {
          // Over GMCP, never typed: the token is not shown or kept in any scrollback.
          this.resuming = true;
          this.setStatus("Server upgraded; logging you back in…", true);
          this.sendGmcp("Client.Resume", { token: resume.token });
        }
      } else if (option === EOR || option === SGA) this.sendCommand(DO, option);
      else this.sendCommand(DONT, option); // MCCP2 above all: a browser has no use for it
    } else if (verb === WONT) {
      if (option === ECHO) this.setMasked(false);
      this.sendCommand(DONT, option);
    } else if (verb === DO) {
      if (option === TTYPE || option === NAWS || option === CHARSET) {
        this.sendCommand(WILL, option);
        if (option === NAWS) this.sendSize();
      } else this.sendCommand(WONT, option);
    } else if (verb === DONT) {
      this.sendCommand(WONT, option);
    }
  };

  Client.prototype.terminalNames = function () {
    var mtts = MTTS_BASE | (this.screenReader ? MTTS_SCREEN_READER : 0);
    return ["REALITY-WEB", "XTERM-256COLOR", "MTTS " + mtts];
  };

  Client.prototype.onSubnegotiation = function (option, payload) {
    if (option === TTYPE && payload[0] === TTYPE_SEND) {
      var names = this.terminalNames();
      var name = names[Math.min(this.ttypeSent, names.length - 1)];
      this.ttypeSent += 1;
      var bytes = [TTYPE_IS].concat(Array.prototype.slice.call(encoder.encode(name)));
      this.sendSub(TTYPE, bytes);
    } else if (option === CHARSET && payload[0] === CHARSET_REQUEST) {
      var offered = new TextDecoder().decode(payload.subarray(2)).toUpperCase().split(String.fromCharCode(payload[1]));
      if (offered.indexOf("UTF-8") >= 0) this.sendSub(CHARSET, [CHARSET_ACCEPTED].concat(Array.prototype.slice.call(encoder.encode("UTF-8"))));
      else this.sendSub(CHARSET, [CHARSET_REJECTED]);
    } else if (option === GMCP) {
      var text = new TextDecoder().decode(payload);
      var space = text.indexOf(" ");
      var pkg = space < 0 ? text : text.slice(0, space), data = null;
      if (space >= 0) { try { data = JSON.parse(text.slice(space + 1)); } catch (e) { data = null; } }
      this.onGmcp(pkg, data);
    }
  };

  Client.prototype.onCommand = function (command) {
    if (command === GA || command === EOR_CMD) this.onPrompt();
  };

  Client.prototype.onData = function (bytes) {
    this.text = (this.text || "") + this.decoder.decode(bytes, { stream: true });
    // Whole lines go to the scrollback now; an unfinished line waits for the
    // next frame or for GA/EOR, which make it the prompt.
    var end = this.text.lastIndexOf("\n");
    if (end >= 0) {
      this.renderer.write(this.text.slice(0, end + 1));
      this.text = this.text.slice(end + 1);
      if (this.text.length > 4096) this.flushText();
    }
  };

  Client.prototype.flushText = function () {
    if (this.text) { this.renderer.write(this.text); this.text = ""; }
  };

  Client.prototype.onPrompt = function () {
    // The game's usual prompt ("> ") is shown beside the input line, not
    // added to the scrollback (a screen reader would read it after every
    // command). A prompt that says something ("Password:", a question) is
    // a line of the scrollback too, so that it is read out.
    var raw = this.text || "";
    this.text = "";
    var prompt = stripMarkup(raw).replace(/[\r\n]/g, "");
    var label = prompt.trim();
    if (label === "" || label === ">") {
      this.promptEl.textContent = prompt;
      this.inputLabel.textContent = this.masked ? "Password" : "Command";
      return;
    }
    this.renderer.write(raw.replace(/[\r\n]+$/, "") + "\n");
    this.promptEl.textContent = "";
    this.inputLabel.textContent = label.replace(/:$/, "");
  };

  Client.prototype.setMasked = function (masked) {
    this.masked = masked;
    this.input.type = masked ? "password" : "text";
    this.input.setAttribute("autocomplete", masked ? "current-password" : "off");
    if (!masked && this.inputLabel.textContent.toLowerCase().indexOf("password") >= 0) this.inputLabel.textContent = "Command";
  };

  Client.prototype.sendSize = function () {
    // NAWS: the width of the scrollback in characters, so the server wraps to it.
    var probe = document.createElement("span");
    probe.textContent = "0000000000";
    probe.style.visibility = "hidden";
    this.output.appendChild(probe);
    var charWidth = probe.getBoundingClientRect().width / 10 || 8;
    this.output.removeChild(probe);
    var style = window.getComputedStyle(this.output);
    var inner = this.output.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    var width = Math.max(20, Math.min(250, Math.floor(inner / charWidth) - 1));
    var height = Math.max(5, Math.min(200, Math.floor(this.output.clientHeight / (charWidth * 2))));
    if (width === this.sentWidth && height === this.sentHeight) return;
    this.sentWidth = width; this.sentHeight = height;
    this.sendSub(NAWS, [width >> 8, width & 255, height >> 8, height & 255]);
  };

  // -- GMCP -> the side panel ----------------------------------------------------------
  Client.prototype.onGmcp = function (pkg, data) {
    var name = pkg.toLowerCase();
    if (name === "room.info" || name === "char.status" || name === "char.name") {
      this.loggedIn = true;
      if (this.resuming) { this.resuming = false; this.setStatus("Reconnected: you are back in the game."); }
    }
    if (name === "client.resume" && data && typeof data.token === "string") {
      var seconds = typeof data.expires === "number" ? data.expires : 60;
      this.resume = { token: data.token, until: Date.now() + seconds * 1000 };
      this.setStatus("Server upgraded; reconnecting…", true);
      return;
    }
    if (name === "room.info" && data && typeof data === "object") this.showRoom(data);
    else if (name === "char.status" && data && typeof data === "object") this.showStatus(data);
  };

  Client.prototype.showRoom = function (room) {
    var heading = document.getElementById("room-name");
    heading.textContent = stripMarkup(String(room.name || "Somewhere"));
    var exits = document.getElementById("exits");
    exits.textContent = "";
    var self = this;
    Object.keys(room.exits || {}).forEach(function (way) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = way;
      button.setAttribute("aria-label", "Go " + way);
      button.addEventListener("click", function () { self.submit(way, true); });
      li.appendChild(button);
      exits.appendChild(li);
    });
    var here = document.getElementById("here");
    here.textContent = "";
    var names = [].concat(room.players || [], room.npcs || [], room.items || []);
    if (!names.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "Nobody else.";
      here.appendChild(empty);
    }
    names.forEach(function (n) {
      var li = document.createElement("li");
      li.textContent = stripMarkup(String(typeof n === "object" && n !== null ? (n.name || "") : n));
      here.appendChild(li);
    });
    this.roomId = room.id === undefined ? null : String(room.id);
    this.highlightRoom();
  };

  Client.prototype.showStatus = function (status) {
    var parts = [];
    if (status.name) parts.push(String(status.name));
    if (status.time) parts.push("it is " + String(status.time));
    document.getElementById("char-status").textContent = parts.join(" · ");
  };

  // -- the map: /map.svg, drawn in the page so the current room can be marked ----------
  Client.prototype.loadMap = function () {
    if (this.mapLoaded || this.screenReader) return;
    this.mapLoaded = true;
    var self = this;
    fetch("/map.svg", { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : Promise.reject(new Error(String(r.status)));
    }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, "image/svg+xml");
      var svg = doc.documentElement;
      if (!svg || svg.nodeName.toLowerCase() !== "svg") return;
      // The map is the site's own drawing; scripts in it would not run (CSP) and it has none.
      svg.querySelectorAll("script, foreignObject").forEach(function (el) { el.remove(); });
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", "The map; the room you are in is marked");
      var box = document.getElementById("map");
      box.textContent = "";
      box.appendChild(document.importNode(svg, true));
      self.highlightRoom();
    }).catch(function () { self.mapLoaded = false; });
  };

  Client.prototype.highlightRoom = function () {
    var box = document.getElementById("map");
    var old = box.querySelectorAll(".room.here");
    for (var i = 0; i < old.length; i++) old[i].classList.remove("here");
    if (this.roomId === null) return;
    var groups = box.querySelectorAll("g.room");
    for (var j = 0; j < groups.length; j++) {
      if (groups[j].id === "room-" + this.roomId) {
        groups[j].classList.add("here");
        var map = box.querySelector("svg");
        if (map && groups[j].getBBox && box.scrollHeight > box.clientHeight) groups[j].scrollIntoView({ block: "nearest" });
      }
    }
  };

  // -- the input line --------------------------------------------------------------------
  Client.prototype.submit = function (text, fromButton) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.renderer.note("Not connected: the command was not sent.", "notice");
      this.scroll(true);
      return;
    }
    this.flushText();
    if (this.masked) {
      this.renderer.note("(password not shown)", "echo");
    } else {
      if (!this.screenReader || fromButton) this.renderer.note((this.promptEl.textContent || "") + text, "echo");
      if (text && this.history[this.history.length - 1] !== text) {
        this.history.push(text);
        if (this.history.length > MAX_HISTORY) this.history.shift();
      }
    }
    this.promptEl.textContent = "";
    this.sendLine(text);
    this.scroll(true);
  };

  Client.prototype.bind = function () {
    var self = this;
    document.getElementById("input-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value;
      self.input.value = "";
      self.submit(text, false);
      self.historyAt = self.history.length;
      self.draft = "";
    });
    this.input.addEventListener("keydown", function (event) {
      if (self.masked || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
      var h = self.history;
      if (!h.length) return;
      event.preventDefault();
      if (self.historyAt === h.length) self.draft = self.input.value; // keep what was being typed
      if (event.key === "ArrowUp") self.historyAt = Math.max(0, self.historyAt - 1);
      else self.historyAt = Math.min(h.length, self.historyAt + 1);
      self.input.value = self.historyAt === h.length ? self.draft : h[self.historyAt];
      var end = self.input.value.length;
      self.input.setSelectionRange(end, end);
    });
    this.reconnectButton.addEventListener("click", function () {
      if (self.socket) return;
      self.retries = 0;
      self.connect();
      self.input.focus();
    });
    this.srToggle.addEventListener("change", function () {
      self.screenReader = self.srToggle.checked;
      try { window.localStorage.setItem("reality.screenreader", self.screenReader ? "on" : "off"); } catch (e) { /* private mode */ }
      document.getElementById("map-panel").hidden = self.screenReader;
      // The server hears it now (logged in: the setting; otherwise MTTS on the next connection).
      if (self.socket && self.socket.readyState === WebSocket.OPEN && self.loggedIn) {
        self.sendLine("set screenreader " + (self.screenReader ? "on" : "off"));
      }
      if (!self.screenReader) self.loadMap();
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { if (self.socket) self.sendSize(); self.scroll(true); }, 200);
    });
    var mapPanel = document.getElementById("map-panel");
    mapPanel.hidden = this.screenReader;
    // On a phone the scrollback needs the room: the map starts folded.
    if (window.matchMedia && window.matchMedia("(max-width: 48rem)").matches) mapPanel.open = false;
    this.loadMap();
    this.input.focus();
  };

  /* Whether the scrollback shows its end: output then keeps it there; a
   * player reading further up is left where they are. */
  Client.prototype.atBottom = function () {
    var out = this.output;
    return out.scrollHeight - out.scrollTop - out.clientHeight < 40;
  };
  Client.prototype.scroll = function () {
    this.output.scrollTop = this.output.scrollHeight;
  };

  function stripMarkup(text) {
    return text.replace(/\x1b\[[0-9;:]*[@-~]/g, "");
  }

  function start() {
    var root = document.getElementById("play");
    if (root) window.realityClient = new Client(root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
