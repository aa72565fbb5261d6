// The status page's script: refreshes the captures every second, checks
// filters and starts captures through the API. Sections come from the
// server as HTML that html/template escaped (GET /v1/ui/{section}); what
// the script writes itself (filter listings, errors, ids) goes in as text,
// never as HTML. With a token configured it is asked for once per tab and
// kept in sessionStorage: never in a cookie (the browser would send it by
// itself) nor in the URL (logs and histories keep URLs).
(function () {
  "use strict";
  var KEY = "pcapdaemon.token";
  var needsToken = document.body.dataset.auth === "bearer";
  var byId = function (id) { return document.getElementById(id); };
  var refreshing = false;
  var pressed = false; // a pointer button is down
  document.addEventListener("pointerdown", function () { pressed = true; }, true);
  ["pointerup", "pointercancel"].forEach(function (ev) {
    document.addEventListener(ev, function () { pressed = false; }, true);
  });
  var timer = null;

  function token() { return needsToken ? (sessionStorage.getItem(KEY) || "") : ""; }

  // api sends one request to the API: JSON bodies with their content
  // type, the token when there is one, no cookies.
  function api(method, path, body) {
    var headers = {};
    if (token()) { headers["Authorization"] = "Bearer " + token(); }
    var opts = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (method !== "GET") {
      // The API takes changes (POST, DELETE) in JSON only.
      headers["Content-Type"] = "application/json";
    }
    if (body !== undefined) { opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (resp) {
      if (resp.status === 401) {
        askToken("The token was refused.");
        throw new Error("the API refused the token");
      }
      return resp;
    });
  }

  // errorOf reads the API's {"error": ...} answer.
  function errorOf(resp) {
    return resp.text().then(function (t) {
      try { var j = JSON.parse(t); if (j && j.error) { return j; } } catch (e) { /* not JSON */ }
      return { error: resp.status + " " + t.slice(0, 200) };
    });
  }

  function notice(text, isErr) {
    var n = byId("notice");
    n.textContent = text || "";
    n.className = isErr ? "err" : "note";
  }

  function askToken(why) {
    sessionStorage.removeItem(KEY);
    stopRefresh();
    var f = byId("tokenform");
    if (!f) { return; }
    f.hidden = false;
    byId("tokenerr").textContent = why || "";
    byId("token").focus();
  }

  // load replaces a section with the server's rendering of it.
  function load(name) {
    return api("GET", "/v1/ui/" + name).then(function (resp) {
      if (!resp.ok) { return errorOf(resp).then(function (e) { throw new Error(name + ": " + e.error); }); }
      return resp.text();
    }).then(function (html) {
      var t = document.createElement("template");
      t.innerHTML = html;
      var fresh = t.content.querySelector("section#" + name);
      var old = byId(name);
      // A section is replaced only when it changed, and never while a
      // button is pressed: a click needs its press and release on the
      // same element, and a Stop lost to a refresh would be a bug.
      if (fresh && old && !pressed && !fresh.isEqualNode(old)) { old.replaceWith(fresh); }
      if (name === "interfaces") { fillInterfaces(); }
      if (name === "agent" && fresh) { showHost(fresh.dataset.host); }
    });
  }

  function loadAll() {
    return Promise.all([load("agent"), load("interfaces"), load("captures")]).then(function () {
      notice("");
      startRefresh();
    }, function (e) { notice(e.message, true); });
  }

  // refresh reloads the captures every second, and the agent's summary
  // (uptime, captures running) every fifth.
  var ticks = 0;
  var refreshFailed = false;
  function refresh() {
    if (refreshing || document.hidden) { return; }
    refreshing = true;
    var loads = [load("captures")];
    if (++ticks % 5 === 0) { loads.push(load("agent")); }
    // A refresh clears only the notice of a refresh that failed, not what
    // an action (Stop, a download) reported.
    Promise.all(loads).then(function () {
      if (refreshFailed) { refreshFailed = false; notice(""); }
    }, function (e) {
      refreshFailed = true;
      notice(e.message, true);
    }).then(function () { refreshing = false; });
  }
  function startRefresh() { if (!timer) { timer = setInterval(refresh, 1000); } }
  function stopRefresh() { if (timer) { clearInterval(timer); timer = null; } }

  // showHost names the agent in the title and the heading.
  function showHost(host) {
    if (!host) { return; }
    document.title = "pcapdaemon on " + host;
    var h = document.querySelector("h1");
    var span = h.querySelector(".host") || h.appendChild(document.createElement("span"));
    span.className = "host";
    span.textContent = " on " + host;
  }

  // fillInterfaces lists the interfaces of the table in the form's menu.
  function fillInterfaces() {
    var sel = byId("f-interface");
    var keep = sel.value;
    while (sel.firstChild) { sel.removeChild(sel.firstChild); }
    document.querySelectorAll("#interfaces tr[data-name]").forEach(function (tr) {
      var o = document.createElement("option");
      o.value = o.textContent = tr.dataset.name;
      sel.appendChild(o);
    });
    if (keep) { sel.value = keep; }
  }

  function formMsg(text, cls) {
    var m = byId("formmsg");
    m.textContent = text;
    m.className = cls || "";
  }

  function intField(id) {
    var v = byId(id).value.trim();
    return v === "" ? undefined : Number(v);
  }

  // caret shows where in the expression a compile error is.
  function caret(expr, pos) {
    var line = expr.split("\n")[pos.line - 1] || "";
    return line + "\n" + " ".repeat(Math.max(0, pos.col - 1)) + "^";
  }

  function checkFilter() {
    var expr = byId("f-bpf").value;
    var body = { bpf: expr, interface: byId("f-interface").value };
    var snap = intField("f-snap");
    if (snap !== undefined) { body.snap = snap; }
    var pre = byId("program");
    formMsg("Checking…");
    return api("POST", "/v1/filter/check", body).then(function (resp) {
      if (resp.ok) {
        return resp.json().then(function (r) {
          if (r.instructions === 0) {
            formMsg("No filter: every packet on " + r.interface + " is captured.", "ok");
            pre.hidden = true;
            return;
          }
          formMsg("The filter compiles for " + r.interface + " (" + r.linktype + ", snap " + r.snaplen + "): " +
            r.instructions + " instructions, as pcapdaemon bpf -d prints them:", "ok");
          pre.textContent = r.listing;
          pre.hidden = false;
        });
      }
      return errorOf(resp).then(function (e) {
        formMsg(e.error, "err");
        if (e.position) {
          pre.textContent = caret(expr, e.position);
          pre.hidden = false;
        } else {
          pre.hidden = true;
        }
      });
    }, function (e) { formMsg(e.message, "err"); });
  }

  function startCapture() {
    var agent = byId("agent");
    var host = agent && agent.dataset.host;
    if (!host) { formMsg("The agent's name is not loaded yet.", "err"); return; }
    var req = { node: host, interface: [byId("f-interface").value] };
    var bpf = byId("f-bpf").value.trim();
    if (bpf) { req.bpf = bpf; }
    [["snap", "f-snap"], ["packets", "f-packets"], ["bytes", "f-bytes"], ["duration", "f-duration"],
      ["timeout", "f-timeout"], ["alertid", "f-alertid"]].forEach(function (f) {
      var v = intField(f[1]);
      if (v !== undefined) { req[f[0]] = v; }
    });
    [["format", "f-format"], ["tags", "f-tags"], ["customer", "f-customer"]].forEach(function (f) {
      var v = byId(f[1]).value.trim();
      if (v) { req[f[0]] = v; }
    });
    formMsg("Starting…");
    byId("program").hidden = true;
    return api("POST", "/v1/captures", req).then(function (resp) {
      if (resp.ok) {
        return resp.json().then(function (r) {
          formMsg("Capture " + r.id + " started.", "ok");
          byId("formmsg").dataset.id = r.id;
          refresh();
        });
      }
      return errorOf(resp).then(function (e) { formMsg(e.error, "err"); });
    }, function (e) { formMsg(e.message, "err"); });
  }

  function cancel(id) {
    return api("DELETE", "/v1/captures/" + encodeURIComponent(id)).then(function (resp) {
      if (!resp.ok && resp.status !== 404) { return errorOf(resp).then(function (e) { notice(e.error, true); }); }
      refresh();
    }, function (e) { notice(e.message, true); });
  }

  // download saves a capture file. Without a token the link works as it
  // is; with one, the file is fetched with the token and saved from memory.
  function download(a) {
    api("GET", a.getAttribute("href")).then(function (resp) {
      if (!resp.ok) { return errorOf(resp).then(function (e) { notice(e.error, true); }); }
      var m = /filename="?([^";]+)"?/.exec(resp.headers.get("Content-Disposition") || "");
      return resp.blob().then(function (b) {
        var url = URL.createObjectURL(b);
        var tmp = document.createElement("a");
        tmp.href = url;
        tmp.download = m ? m[1] : "capture.pcap";
        document.body.appendChild(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      });
    }, function (e) { notice(e.message, true); });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) { return; }
    var stop = t.closest("button.cancel");
    if (stop) { cancel(stop.dataset.id); return; }
    var a = t.closest("a.download");
    if (a && needsToken) { ev.preventDefault(); download(a); }
  });

  byId("checkbtn").addEventListener("click", checkFilter);
  byId("captureform").addEventListener("submit", function (ev) { ev.preventDefault(); startCapture(); });

  var tf = byId("tokenform");
  if (tf) {
    tf.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = byId("token").value.trim();
      if (!v) { return; }
      sessionStorage.setItem(KEY, v);
      byId("token").value = "";
      tf.hidden = true;
      loadAll();
    });
  }

  if (needsToken) {
    if (token()) { loadAll(); } else { askToken(""); }
  } else {
    fillInterfaces();
    startRefresh();
  }
})();
