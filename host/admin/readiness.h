// Whether the serving process should get traffic: the answer of /readyz on
// the admin listener and of --health-check-path on the main listeners.
//
//   Starting --every listener and plugin up--> Ready --SIGTERM--> Draining
//
// Draining starts at SIGTERM itself, before the drain (and before any
// --drain-delay), so that a balancer stops sending new requests while the
// process still serves them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::admin {

enum class Readiness : uint8_t { Starting, Ready, Draining };

// Main thread.
void set_readiness(Readiness r);
void set_current_generation(uint64_t id);
// A SIGHUP reload ended: published (ok) or refused (failed).
void count_reload(bool ok);

// Any thread.
Readiness readiness();
uint64_t current_generation();
uint64_t reloads(bool ok);

// The readiness answer: 200 {"status":"ready","generation":N} when Ready,
// else 503 {"status":"starting"} or {"status":"draining"}, each with a
// final newline. Writes the body into buf (64 bytes are enough) and returns
// its length.
size_t ready_answer(char* buf, size_t cap, int* status);

}  // namespace pounce::admin
