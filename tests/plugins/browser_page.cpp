// The page that headless Chromium loads in tls_browser_test: it drives an
// EventSource (the sse plugin, mounted at /sse by the test), a WebSocket to
// this plugin, and a fetch of a compressible resource, reads the
// Server-Timing entries the browser parsed, then navigates to /report with
// the results in the query string, which the test reads in the access log.
//
//   GET /           the HTML page
//   GET /app.js     the script
//   GET /data.txt   DATA_LINES lines of text (far above the compression
//                   threshold); the script rebuilds the same text to compare
//   GET /report     200 "reported" (the results are in the target)
//   WebSocket /ws   every message echoed back
#include <pounce/pounce.hpp>

#include <string>

namespace {

constexpr int kDataLines = 2000;

std::string data_text() {
  std::string out;
  for (int i = 0; i < kDataLines; ++i) {
    out += "line " + std::to_string(i) + ": pounce over TLS, compressed\n";
  }
  return out;
}

constexpr const char* kPage = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>pounce tls browser test</title></head>
<body><p id="status">running</p><script src="/app.js"></script></body></html>
)";

// Each check settles once, with "ok" or a short reason; a watchdog reports
// whatever has settled so far, so that a hung part shows as "pending".
constexpr const char* kScript = R"JS('use strict';
(function () {
  var names = ['sse', 'ws', 'compress', 'timing'];
  var results = {};
  var extra = {};
  var reported = false;
  function settle(name, value) {
    if (results[name] !== undefined) return;
    results[name] = String(value);
    if (names.every(function (n) { return results[n] !== undefined; })) report();
  }
  function report() {
    if (reported) return;
    reported = true;
    var q = names.map(function (n) {
      return n + '=' + encodeURIComponent(results[n] === undefined ? 'pending' : results[n]);
    });
    Object.keys(extra).forEach(function (k) {
      q.push(k + '=' + encodeURIComponent(extra[k]));
    });
    location.replace('/report?' + q.join('&'));
  }
  setTimeout(report, WATCHDOG_MS);
  window.addEventListener('error', function (e) { extra.jserror = e.message; });
  // The protocol the page came over: "h2" (ALPN) or "http/1.1".
  try {
    extra.proto = performance.getEntriesByType('navigation')[0].nextHopProtocol;
  } catch (e) { extra.proto = 'exception'; }

  // Server-sent events: the sse plugin sends seq 0, 1, 2, then ends.
  try {
    var seqs = [];
    var es = new EventSource('/sse/events?count=3&interval_ms=20');
    es.onmessage = function (e) {
      seqs.push(JSON.parse(e.data).seq);
      if (seqs.length === 3) {
        es.close();
        settle('sse', seqs.join(',') === '0,1,2' ? 'ok' : 'bad:' + seqs.join(','));
      }
    };
    es.onerror = function () {
      if (seqs.length < 3) { es.close(); settle('sse', 'error:after:' + seqs.length); }
    };
  } catch (e) { settle('sse', 'exception:' + e); }

  // A WebSocket over TLS; the long message makes permessage-deflate work.
  try {
    var ws = new WebSocket('wss://' + location.host + '/ws');
    var long = 'hello over wss ' + 'abcdefghij'.repeat(2000);
    var echoes = [];
    ws.onopen = function () { ws.send('first'); ws.send(long); };
    ws.onmessage = function (e) {
      echoes.push(e.data);
      if (echoes.length === 2) {
        extra.wsext = ws.extensions;
        var good = echoes[0] === 'first' && echoes[1] === long;
        settle('ws', good ? 'ok' : 'mismatch:' + echoes[0].length + ',' + echoes[1].length);
        ws.close(1000);
      }
    };
    ws.onerror = function () { settle('ws', 'error'); };
    ws.onclose = function (e) { settle('ws', 'closed:' + e.code); };
  } catch (e) { settle('ws', 'exception:' + e); }

  // Retries until the browser has the resource timing entry for `url`.
  function entryFor(url, tries) {
    return new Promise(function (resolve) {
      (function poll(left) {
        var list = performance.getEntriesByName(url);
        if (list.length > 0 || left === 0) return resolve(list[list.length - 1]);
        setTimeout(function () { poll(left - 1); }, 20);
      })(tries);
    });
  }
  function timingText(entry) {
    if (!entry) return 'no-entry';
    return entry.serverTiming.map(function (t) {
      return t.name + ';dur=' + t.duration;
    }).join(',') || 'none';
  }

  // A compressible resource, then the timings of the page and of it.
  var dataUrl = new URL('/data.txt', location.href).href;
  var expected = '';
  for (var i = 0; i < DATA_LINES; ++i) expected += 'line ' + i + ': pounce over TLS, compressed\n';
  fetch(dataUrl, {cache: 'no-store'}).then(function (r) {
    extra.enc = r.headers.get('content-encoding') || 'identity';
    return r.text();
  }).then(function (text) {
    return entryFor(dataUrl, 250).then(function (entry) {
      if (entry) {
        extra.encoded = entry.encodedBodySize;
        extra.decoded = entry.decodedBodySize;
      }
      if (text !== expected) {
        settle('compress', 'mismatch:' + text.length + '/' + expected.length);
      } else if (!entry) {
        settle('compress', 'no-entry');
      } else if (!(entry.encodedBodySize > 0 && entry.encodedBodySize < entry.decodedBodySize)) {
        settle('compress', 'not-compressed:' + entry.encodedBodySize + '/' + entry.decodedBodySize);
      } else {
        settle('compress', 'ok');
      }
      var nav = performance.getEntriesByType('navigation')[0];
      extra.timing_nav = timingText(nav);
      extra.timing_res = timingText(entry);
      settle('timing', nav && entry && nav.serverTiming.length > 0 &&
                       entry.serverTiming.length > 0 ? 'ok' : 'missing');
    });
  }).catch(function (e) {
    settle('compress', 'exception:' + e);
    settle('timing', 'exception:' + e);
  });
})();
)JS";

std::string script() {
  std::string s = kScript;
  auto put = [&s](const std::string& key, const std::string& value) {
    for (size_t at = s.find(key); at != std::string::npos; at = s.find(key)) {
      s.replace(at, key.size(), value);
    }
  };
  put("WATCHDOG_MS", "20000");
  put("DATA_LINES", std::to_string(kDataLines));
  return s;
}

class BrowserPage : public pounce::Plugin {
 public:
  explicit BrowserPage(const pounce::InitArgs&)
      : script_(script()), data_(data_text()) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    const std::string_view path = req.path_info();
    res.header("Cache-Control", "no-store");
    if (path == "/") {
      res.header("Content-Type", "text/html; charset=utf-8").body(kPage);
    } else if (path == "/app.js") {
      res.header("Content-Type", "text/javascript; charset=utf-8")
          .body(script_);
    } else if (path == "/data.txt") {
      res.header("Content-Type", "text/plain; charset=utf-8").body(data_);
    } else if (path == "/report") {
      res.header("Content-Type", "text/plain").body("reported\n");
    } else {
      res.status(404).header("Content-Type", "text/plain").body("not found\n");
    }
  }

  void on_ws_upgrade(const pounce::Request& req,
                     pounce::WsUpgrade& up) override {
    if (req.path_info() != "/ws") up.reject(404);
  }

  void on_ws_message(pounce::WebSocket ws, pounce_ws_opcode_t op,
                     std::string_view data) override {
    ws.send(op, data);
  }

 private:
  const std::string script_;
  const std::string data_;
};

}  // namespace

POUNCE_CPP_PLUGIN(BrowserPage, pounce::PluginInfo{.name = "browser-page",
                                                  .version = "1.0.0",
                                                  .mode = POUNCE_MODE_SYNC,
                                                  .websocket = true})
