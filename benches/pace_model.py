#!/usr/bin/env python3
"""A Monte-Carlo model of bulkcast's pace (src/net/pacer.rs, `--rate N`) against a fixed
one-second-window limit with transit jitter: the model the pacer's constants were chosen with.
It runs in seconds where benches/pace.sh takes minutes, so it can try many seeds and settings;
pace.sh measures the real thing.

Modelled: the GCRA schedule (burst 1), the cuts (CUT, CUT_NEAR within NEAR of the ceiling, the
deep cut, PROBE_CUT), the rises (GAIN with the run bonus, SHARE_STEP, probing after
PROBE_AFTER), a 429'd row retrying at its next slot, up to CONCURRENCY rows in flight, and
(issue 23) the ceiling split between the runs the ledger shows sending to the account, read
every POLL seconds, each stopping SHARED_TOP short of its share, with a run below its share
probing sooner and needing more replies for a deep cut. `--before` models the pace before that: runs that do not know each other (as
runs on two machines still are). Not modelled: pauses (four 429s in a row), --rate auto,
logins and listings.

The server counts every arrival in its window, as the simulation does; a 429 comes back on
arrival, a create after LATENCY.

Usage: benches/pace_model.py [SEEDS]     (default 20)
"""
import heapq
import math
import random
import statistics
import sys

CUT, CUT_NEAR, NEAR = 0.07, 0.04, 0.9
GAIN, GAIN_RUN, SHARE_STEP = 0.0012, 30.0, 0.0012
PROBE_AFTER, PROBE, PROBE_CUT = 80, 0.05, 0.10
# Runs on one machine share one ledger, and each reads every POLL seconds how many runs are
# sending to its account (itself included): the ceiling is split between them (None: not
# modelled, the pace before issue 23; runs on different machines are still paced by 429s alone).
POLL = 0.25
# A run that knows its neighbours (POLL) and is below its share probes after this many
# requests in a row let through, not PROBE_AFTER: a cut that took it there was the window's
# jitter, not a neighbour it cannot see.
PROBE_SHARED_AFTER = 10
# Runs that know they share stop this short of their share: two independent streams at exactly
# the limit fill a fixed window past it far more often than one stream does.
SHARED_TOP = 0.96
DEEP_AFTER, DEEP_SHARE = 3, 0.30
# The replies a deep cut needs when the run knows it shares the account (POLL).
DEEP_AFTER_SHARED = 5
CONCURRENCY, LATENCY = 6, 0.3


class Pacer:
    def __init__(self, ceiling, sharers=1):
        self.ceiling = self.rate = ceiling
        self.sharers = 1
        self.share(sharers)
        self.tat = 0.0
        self.probing = False
        self.run = 0
        self.last_cut = -math.inf
        self.replies = self.rejected = 0

    def reserve(self, now):
        slot = max(now, self.tat)
        self.tat = slot + 1 / self.rate
        return slot

    def top(self):
        margin = SHARED_TOP if self.sharers > 1 and POLL is not None else 1.0
        return self.ceiling / self.sharers * margin

    def share(self, sharers):
        """`sharers` runs now send to the account: the ceiling is split, and a run whose
        neighbour left takes its share at once."""
        sharers = max(sharers, 1)
        if sharers < self.sharers:
            self.rate = min(self.rate * self.sharers / sharers, self.ceiling / sharers)
            self.probing = False
        self.sharers = sharers
        self.rate = min(self.rate, self.top())

    def let_through(self, sent):
        self.run += 1
        if sent >= self.last_cut:
            self.replies += 1
        if self.probing:
            self.rate *= 1 + PROBE
        else:
            bonus = self.run / GAIN_RUN
            self.rate *= 1 + GAIN * (1 + bonus * bonus)
            self.rate += SHARE_STEP * self.top() / self.rate
            below = self.sharers > 1 and self.rate < self.top()
            after = PROBE_SHARED_AFTER if below else PROBE_AFTER
            if self.run >= after and self.rate < self.top():
                self.probing = True
        if self.rate >= self.top():
            self.rate, self.probing = self.top(), False

    def too_many(self, now, sent):
        self.run = 0
        if sent < self.last_cut:
            return
        self.replies += 1
        self.rejected += 1
        share = self.rejected / self.replies
        deep_after = DEEP_AFTER_SHARED if self.sharers > 1 else DEEP_AFTER
        if self.replies >= deep_after and share >= DEEP_SHARE:
            keep = max(1 - share, 0.5)
        elif self.probing:
            keep = 1 - PROBE_CUT  # (the pacer also looks at the last second; not modelled)
        elif self.rate >= NEAR * self.top():
            keep = 1 - CUT_NEAR
        else:
            keep = 1 - CUT
        self.rate = max(self.rate * keep, self.top() / 10)
        self.probing = False
        self.last_cut = now
        self.replies = self.rejected = 0


def run(runs, limit, jitter, seed, latency=None):
    """runs: [(rows, start)], each at --rate `limit`. Returns (creates/s from first create to
    last over the limit, 429s over requests)."""
    latency = LATENCY if latency is None else latency
    rng = random.Random(seed)
    offset = rng.random()
    events, seq, windows = [], [0], {}

    def push(t, kind, data):
        seq[0] += 1
        heapq.heappush(events, (t, seq[0], kind, data))

    state = []
    for i, (rows, start) in enumerate(runs):
        state.append(dict(pacer=Pacer(limit), rows=rows, next=0, inflight=0, blocked=False,
                          start=start, done=0))
        push(start, "start", i)

    def sending(t):
        return sum(1 for s in state if s["start"] <= t and s["done"] < s["rows"])
    requests = refused = 0
    creates = []
    while events:
        t, _, kind, data = heapq.heappop(events)
        if kind == "start":
            if POLL is not None:
                state[data]["pacer"].share(sending(t))
                push(t + POLL, "poll", data)
            push(t, "dispatch", data)
        elif kind == "poll":
            if state[data]["done"] < state[data]["rows"]:
                state[data]["pacer"].share(sending(t))
                push(t + POLL, "poll", data)
        elif kind == "dispatch":
            s = state[data]
            if s["next"] >= s["rows"]:
                continue
            if s["inflight"] >= CONCURRENCY:
                s["blocked"] = True
                continue
            slot = s["pacer"].reserve(t)
            s["next"] += 1
            s["inflight"] += 1
            push(slot, "send", data)
            push(slot, "dispatch", data)
        elif kind == "retry":
            push(state[data]["pacer"].reserve(t), "send", data)
        elif kind == "send":
            requests += 1
            arrival = t + rng.random() * jitter
            w = math.floor(arrival - offset)
            windows[w] = windows.get(w, 0) + 1
            if windows[w] > limit:
                push(arrival, "429", (data, t))
            else:
                push(arrival + latency, "created", (data, t))
        elif kind == "429":
            refused += 1
            i, sent = data
            state[i]["pacer"].too_many(t, sent)
            push(t, "retry", i)
        elif kind == "created":
            i, sent = data
            s = state[i]
            s["pacer"].let_through(sent)
            creates.append(sent)
            s["done"] += 1
            s["inflight"] -= 1
            if s["blocked"]:
                s["blocked"] = False
                push(t, "dispatch", i)
    creates.sort()
    return (len(creates) - 1) / (creates[-1] - creates[0]) / limit, refused / requests


def scenario(name, runs, jitter, seeds, latency=None):
    results = [run(runs, 5, jitter, seed, latency) for seed in range(seeds)]
    share = [r[0] * 100 for r in results]
    refused = [r[1] * 100 for r in results]
    print(f"{name:58s} {statistics.mean(share):5.1f}% (worst {min(share):5.1f}%)"
          f"   429s {statistics.mean(refused):4.1f}% (worst {max(refused):4.1f}%)")


if __name__ == "__main__":
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if "--before" in sys.argv:
        POLL = None  # with no neighbour known, PROBE_SHARED_AFTER and DEEP_AFTER_SHARED never apply
    print(f"5/s fixed windows, {LATENCY * 1000:.0f} ms latency, {seeds} seeds; "
          "creates/s from first create to last, as a share of the limit")
    scenario("one run of 300 rows, --rate 5, 0-300 ms jitter", [(300, 0)], 0.3, seeds)
    scenario("one run of 300 rows, --rate 5, no jitter", [(300, 0)], 0.0, seeds)
    scenario("two runs of 300 rows at once, 0-100 ms jitter", [(300, 0), (300, 0)], 0.1, seeds)
    scenario("two runs of 600 rows at once, 0-100 ms jitter", [(600, 0), (600, 0)], 0.1, seeds)
    scenario("two runs of 300 rows, the second 20 s later", [(300, 0), (300, 20)], 0.1, seeds)
    scenario("two runs of 100 rows at once (issue 15's measure)", [(100, 0), (100, 0)], 0.1, seeds)
    scenario("two runs of 100 rows at once, 100 ms latency (issue 23)", [(100, 0), (100, 0)], 0.1, seeds, 0.1)
