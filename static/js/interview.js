// The interview socket client. Speaks elicitation/protocol.py exactly.
// Data from the server or the participant is inserted with textContent only, never innerHTML;
// interviewer replies get a little markdown (paragraphs, lists, bold, italics) built as DOM nodes.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) return;
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var statusEl = document.getElementById("status");
  var errorBox = document.getElementById("error");
  var CLOSE_FORBIDDEN = 4403;
  var PING_EVERY_MS = 20000; // a silent, half-dead connection is noticed within ~45 s
  var SILENCE_LIMIT_MS = 45000;
  var SLOW_REPLY_MS = 20000;
  var storeKey = "mge-pending-" + chat.dataset.interview;

  var socket = null;
  var attempts = 0;
  var pending = loadPending(); // {client_id, content}: sent but not yet acknowledged
  var pendingEl = null;
  var replyEl = null; // the interviewer bubble being streamed
  var replying = false;
  var owed = false; // the server said it owes a reply; ask for it once our message is settled
  var lastFrameAt = Date.now();
  var slowTimer = null;
  var makeCardButton = document.getElementById("make-card");
  var makeCardAfter = Infinity; // participant messages before "Make my card" is offered
  var hasCard = false;

  // --- safe markdown: text goes in through text nodes only, so no markup can get through ---
  var INLINE = /(\*\*|__)(?=\S)([\s\S]*?\S)\1|(\*|_)(?=[^\s*_])([^*_]*?[^\s*_])\3(?![\w])/g;
  var LIST_ITEM = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/;

  function appendInline(parent, text) {
    var last = 0;
    text.replace(INLINE, function (match, strong, strongText, em, emText, offset) {
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var el = document.createElement(strong ? "strong" : "em");
      el.textContent = strong ? strongText : emText;
      parent.appendChild(el);
      last = offset + match.length;
      return match;
    });
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(container, text) {
    container.textContent = "";
    var list = null;
    var para = null;
    (text || "").split(/\r?\n/).forEach(function (line) {
      var item = LIST_ITEM.exec(line);
      if (item) {
        var kind = item[1] ? "ol" : "ul";
        if (!list || list.tagName.toLowerCase() !== kind) {
          list = container.appendChild(document.createElement(kind));
        }
        appendInline(list.appendChild(document.createElement("li")), item[2]);
        para = null;
      } else if (!line.trim()) {
        list = null;
        para = null;
      } else if (para) {
        para.appendChild(document.createElement("br"));
        appendInline(para, line);
      } else {
        list = null;
        para = container.appendChild(document.createElement("p"));
        appendInline(para, line);
      }
    });
  }

  function userMessages() {
    return transcript.querySelectorAll(".msg--user:not(.msg--pending)").length;
  }

  function updateMakeCard() {
    if (!makeCardButton) return;
    makeCardButton.hidden = hasCard || !form || userMessages() < makeCardAfter;
    makeCardButton.disabled = replying || !!pending;
  }

  function watchSlowReply(on) {
    clearTimeout(slowTimer);
    if (on) {
      slowTimer = setTimeout(function () {
        setStatus("The interviewer is taking longer than usual. Still waiting…");
      }, SLOW_REPLY_MS);
    } else if (statusEl.textContent.indexOf("longer than usual") !== -1) {
      setStatus("");
    }
  }

  function loadPending() {
    try { return JSON.parse(sessionStorage.getItem(storeKey)); } catch (e) { return null; }
  }
  function savePending() {
    try {
      if (pending) sessionStorage.setItem(storeKey, JSON.stringify(pending));
      else sessionStorage.removeItem(storeKey);
    } catch (e) { /* private mode: keep it in memory only */ }
  }

  function newClientId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function bubble(role, text) {
    var li = document.createElement("li");
    li.className = "msg msg--" + role;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = role === "user" ? "You:" : "Interviewer:";
    var body = document.createElement("div");
    body.className = "msg__body";
    if (role === "assistant") renderMarkdown(body, text);
    else body.textContent = text || "";
    li.appendChild(who);
    li.appendChild(body);
    transcript.appendChild(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function markIncomplete(li) {
    li.classList.add("msg--incomplete");
    var note = document.createElement("p");
    note.className = "msg__note";
    note.textContent = "This reply was cut off.";
    li.appendChild(note);
  }

  function setStatus(text) { statusEl.textContent = text || ""; }

  function showError(message, retryable) {
    document.getElementById("error-message").textContent = message;
    document.getElementById("retry").hidden = !retryable;
    errorBox.hidden = false;
    errorBox.scrollIntoView({ block: "center" });
  }
  function clearError() { errorBox.hidden = true; }

  function setBusy(busy) {
    replying = busy;
    if (!busy) watchSlowReply(false);
    transcript.setAttribute("aria-busy", busy ? "true" : "false"); // announce whole replies
    if (form) form.querySelector("button[type=submit]").disabled = busy || !!pending;
    updateMakeCard();
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function sendPending() {
    if (!pending) return;
    if (!pendingEl) {
      pendingEl = bubble("user", pending.content);
      pendingEl.classList.add("msg--pending");
    }
    send({ type: "message", client_id: pending.client_id, content: pending.content });
  }

  function dropEmptyReply() {
    if (replyEl && !replyEl.querySelector(".msg__body").textContent) replyEl.remove();
    replyEl = null;
  }

  function showNotice(id, linkId, url) {
    var notice = document.getElementById(id);
    if (url) document.getElementById(linkId).href = url;
    notice.hidden = false;
    notice.scrollIntoView({ block: "center" });
  }

  function closeComposer() {
    if (form) form.remove();
    form = null;
  }

  var handlers = {
    history: function (frame) {
      chat.dataset.connected = "true"; // the live transcript replaced the server-rendered one
      transcript.textContent = "";
      frame.messages.forEach(function (m) {
        var li = bubble(m.role, m.content);
        li.dataset.id = m.id;
        if (!m.complete) markIncomplete(li);
      });
      pendingEl = null;
      replyEl = null;
      makeCardAfter = frame.make_card_after || Infinity;
      hasCard = !!frame.card;
      setBusy(false);
      if (frame.card) showNotice("card-notice", "card-link", frame.card_url);
      if (frame.fallback_url) {
        showNotice("fallback-notice", "fallback-link", frame.fallback_url);
        closeComposer();
        return;
      }
      owed = frame.awaiting_reply;
      if (pending) sendPending();
      else if (owed) { owed = false; send({ type: "retry" }); }
    },
    ack: function (frame) {
      if (!pending || pending.client_id !== frame.client_id) return;
      var shown = transcript.querySelector('[data-id="' + Number(frame.message_id) + '"]');
      if (pendingEl && shown && shown !== pendingEl) pendingEl.remove();
      else if (pendingEl) {
        pendingEl.classList.remove("msg--pending");
        pendingEl.dataset.id = frame.message_id;
      }
      pending = null;
      pendingEl = null;
      savePending();
      setBusy(replying);
      if (frame.duplicate && owed) send({ type: "retry" });
      owed = false;
    },
    reply_start: function () {
      clearError();
      setBusy(true);
      replyEl = bubble("assistant", "");
      var dots = document.createElement("span");
      dots.className = "typing";
      dots.setAttribute("aria-label", "The interviewer is typing");
      for (var i = 0; i < 3; i++) dots.appendChild(document.createElement("span"));
      replyEl.appendChild(dots);
      watchSlowReply(true);
    },
    token: function (frame) {
      watchSlowReply(false);
      if (!replyEl) handlers.reply_start();
      var dots = replyEl.querySelector(".typing");
      if (dots) dots.remove();
      replyEl.querySelector(".msg__body").textContent += frame.text;
      replyEl.scrollIntoView({ block: "end" });
    },
    reply_end: function (frame) {
      var li = replyEl || bubble("assistant", "");
      var dots = li.querySelector(".typing");
      if (dots) dots.remove();
      renderMarkdown(li.querySelector(".msg__body"), frame.content);
      li.dataset.id = frame.message_id;
      if (!frame.complete) markIncomplete(li);
      replyEl = null;
      if (frame.more) { handlers.reply_start(); return; } // the card is being written
      setBusy(false);
      if (input) input.focus();
    },
    card: function (frame) {
      dropEmptyReply();
      setBusy(false);
      var title = document.getElementById("card-notice-title");
      if (title) title.textContent = frame.card.title;
      hasCard = true;
      updateMakeCard();
      showNotice("card-notice", "card-link", frame.url);
    },
    fallback: function (frame) {
      dropEmptyReply();
      setBusy(false);
      document.getElementById("fallback-message").textContent = frame.message;
      showNotice("fallback-notice", "fallback-link", frame.url);
      closeComposer();
    },
    error: function (frame) {
      dropEmptyReply();
      setBusy(false);
      if (!frame.retryable && pending) {
        // The message was refused, not stored: give the text back to edit.
        if (input) input.value = pending.content;
        if (pendingEl) pendingEl.remove();
        pending = null;
        pendingEl = null;
        savePending();
        setBusy(false);
      }
      showError(frame.message, frame.retryable);
      if (frame.code === "study_closed" || frame.code === "withdrawn") closeComposer();
    },
    pong: function () {},
  };

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + chat.dataset.wsPath);
    socket.onopen = function () { attempts = 0; lastFrameAt = Date.now(); setStatus(""); };
    socket.onmessage = function (event) {
      lastFrameAt = Date.now();
      var frame = JSON.parse(event.data);
      if (handlers[frame.type]) handlers[frame.type](frame);
    };
    socket.onclose = function (event) {
      chat.dataset.connected = "false";
      dropEmptyReply();
      if (event.code === CLOSE_FORBIDDEN) {
        setStatus("This conversation can’t be opened here. Please reload the page.");
        return;
      }
      var delay = Math.min(30000, 500 * Math.pow(2, attempts++)) * (0.75 + Math.random() / 2);
      setStatus("Connection lost. Reconnecting… Nothing you wrote is lost.");
      setTimeout(connect, delay);
    };
  }

  function submit() {
    var content = input.value.trim();
    if (!content || pending || replying) return;
    clearError();
    pending = { client_id: newClientId(), content: content };
    savePending();
    input.value = "";
    setBusy(replying);
    sendPending();
  }

  if (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
  }
  if (makeCardButton) {
    makeCardButton.addEventListener("click", function () {
      if (replying || pending) return;
      clearError();
      setBusy(true);
      send({ type: "make_card" });
    });
  }
  document.getElementById("retry").addEventListener("click", function () {
    clearError();
    if (pending) sendPending();
    else send({ type: "retry" });
  });
  setInterval(function () {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastFrameAt > SILENCE_LIMIT_MS) socket.close(); // reconnects on close
    else send({ type: "ping" });
  }, PING_EVERY_MS);
  connect();
})();
