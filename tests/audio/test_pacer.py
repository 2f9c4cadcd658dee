"""Media pacing on a fake clock: real-time rate, catch-up, no ratchet."""

from __future__ import annotations

import pytest

from wavewire.audio.pacer import MediaPacer
from wavewire.errors import FrameFormatError

RATE = 16000
CHUNK = 320  # 20 ms


async def _send(pacer: MediaPacer, clock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        await pacer.wait()
        times.append(clock.now())
        pacer.advance(CHUNK)
    return times


async def test_real_time_rate_over_many_chunks(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0)
    t0 = clock.now()
    times = await _send(pacer, clock, 500)
    for i, t in enumerate(times):
        assert t == pytest.approx(t0 + i * 0.02, abs=1e-9)


async def test_lead_sends_early_by_at_most_max_lead(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.04)
    t0 = clock.now()
    times = await _send(pacer, clock, 50)
    assert times[0] == times[1] == times[2] == t0  # three chunks fit in the 40 ms lead
    for i, t in enumerate(times):
        assert t0 + i * 0.02 - 0.04 - 1e-9 <= t <= t0 + i * 0.02 + 1e-9


async def test_catch_up_after_100ms_stall_returns_to_the_original_timeline(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0, max_lag=0.2)
    t0 = clock.now()
    await _send(pacer, clock, 50)
    await clock.advance(0.02 + 0.1)  # next slot is 20 ms away; we come back 100 ms after it
    after = await _send(pacer, clock, 100)
    burst = [t for t in after if t == after[0]]
    assert len(burst) == 6  # due at +0, +20 … +100 ms into the stall: sent back to back
    for i, t in enumerate(after[len(burst) :], start=50 + len(burst)):
        assert t == pytest.approx(t0 + i * 0.02, abs=1e-9)  # the original timeline
    assert pacer.reanchors == 0


async def test_long_stall_reanchors_once_and_bounds_the_burst(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0, max_lag=0.06)
    t0 = clock.now()
    await _send(pacer, clock, 10)
    await clock.advance(0.5)
    after = await _send(pacer, clock, 100)
    burst = [t for t in after if t == after[0]]
    # Re-anchored so the next chunk is max_lag (3 chunks) late: it and the two after it,
    # plus the one due now, go at once; never more than max_lag + one chunk.
    assert len(burst) == 4
    late_by = 0.5 - 0.02  # the stall began 20 ms before the next chunk was due
    shift = after[-1] - (t0 + 109 * 0.02)
    assert shift == pytest.approx(late_by - 0.06, abs=1e-9)  # bounded: lag - max_lag, once
    assert pacer.reanchors == 1


async def test_repeated_short_stalls_never_ratchet(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0, max_lag=0.2)
    t0 = clock.now()
    sent = 0
    for _ in range(20):
        sent += len(await _send(pacer, clock, 25))
        await clock.advance(0.1)  # a 100 ms stall every half second
    times = await _send(pacer, clock, 30)
    sent_before = sent
    # After the last catch-up the sends are back on the original timeline.
    assert times[-1] == pytest.approx(t0 + (sent_before + 29) * 0.02, abs=1e-9)
    assert pacer.reanchors == 0


async def test_reset_restarts_the_timeline_from_now(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0)
    await _send(pacer, clock, 10)
    await clock.advance(3.0)  # idle between utterances
    pacer.reset()
    t1 = clock.now()
    times = await _send(pacer, clock, 5)
    assert times == pytest.approx([t1 + i * 0.02 for i in range(5)])
    assert pacer.samples_sent == 5 * CHUNK


async def test_delay_is_zero_when_late_and_lag_reports_it(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.0, max_lag=1.0)
    pacer.start()
    pacer.advance(RATE)  # one second of audio sent at once
    assert pacer.delay() == pytest.approx(1.0)
    await clock.advance(1.5)
    assert pacer.lag() == pytest.approx(0.5) and pacer.delay() == 0.0


def test_bad_arguments(clock) -> None:
    with pytest.raises(FrameFormatError):
        MediaPacer(0, clock)
    with pytest.raises(FrameFormatError):
        MediaPacer(RATE, clock, max_lag=-1)
    with pytest.raises(FrameFormatError):
        MediaPacer(RATE, clock).advance(-1)


async def _produce(pacer: MediaPacer, clock, arrivals: list[float]) -> list[float]:
    """A producer delivers one 20 ms chunk at each arrival time (from t0) into a queue,
    never blocked; a sender takes each chunk when the pacer allows. Returns how long each
    chunk waited in the queue."""
    t0 = clock.now()
    queue: list[float] = []
    waits: list[float] = []
    k = 0
    while k < len(arrivals) or queue:
        next_arrival = t0 + arrivals[k] if k < len(arrivals) else float("inf")
        if queue:
            delay = pacer.delay()
            if delay == 0.0 and clock.now() < next_arrival:
                waits.append(clock.now() - queue.pop(0))
                pacer.advance(CHUNK)
                continue
            next_send = clock.now() + delay
        else:
            next_send = float("inf")
        target = min(next_arrival, next_send)
        if target > clock.now():
            await clock.advance(target - clock.now())
        if target == next_arrival:
            pacer.due()  # the first arrival anchors the timeline
            pacer.arrived(0.02, 0.02 * len(queue))
            queue.append(clock.now())
            k += 1
    return waits


async def test_a_late_first_chunk_of_a_live_stream_is_forgotten(clock) -> None:
    # The first chunk is 100 ms late, the next four come with it, then one every 20 ms:
    # a live stream whose timeline was anchored 100 ms late.
    pacer = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    arrivals = [0.1] * 5 + [i * 0.02 for i in range(5, 300)]
    waits = await _produce(pacer, clock, arrivals)
    assert max(waits[10:40]) == pytest.approx(0.06, abs=1e-6)  # 100 ms late - 40 ms lead
    assert pacer.realigns >= 1
    assert max(waits[150:]) == 0.0  # realigned: nothing waits any more
    assert pacer.reanchors == 0


async def test_a_live_stream_straddling_the_lead_is_realigned(clock) -> None:
    # Three chunks in a burst, then real time: every chunk arrives 40 ms (the lead) early,
    # give or take 0.5 ms of jitter, so every other one waits a little: the stream would
    # sit on the edge of the lead for good (and each waiting chunk costs a queued send).
    pacer = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    jitter = [0.0005 if k % 2 else -0.0005 for k in range(300)]
    arrivals = [0.0] * 3 + [(k - 2) * 0.02 + jitter[k] for k in range(3, 300)]
    waits = await _produce(pacer, clock, arrivals)
    assert max(waits[10:40]) > 0.0  # before: the early ones wait
    assert pacer.realigns >= 1
    assert max(waits[150:]) == 0.0  # after: nothing waits
    assert pacer.reanchors == 0


async def test_a_producer_faster_than_real_time_stays_paced(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    arrivals = [i * 0.01 for i in range(400)]  # 2x real time for 8 s of audio
    t0 = clock.now()
    await _produce(pacer, clock, arrivals)
    assert pacer.realigns == 0
    assert clock.now() - t0 == pytest.approx(399 * 0.02 - 0.04, abs=1e-3)  # real time


async def test_a_producer_held_back_to_real_time_by_a_full_queue_stays_paced(clock) -> None:
    # A fast producer behind a full queue delivers at the rate the queue drains: real
    # time, every chunk far ahead. That is no live stream: held() keeps it paced.
    pacer = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    pacer.start()
    queued = 1.0  # a full second waiting, as the producer is held at the limit
    for _ in range(200):
        pacer.held()
        pacer.arrived(0.02, queued)
        await clock.advance(0.02)
        pacer.advance(CHUNK)
    assert pacer.realigns == 0
    # Without held() the same arrivals look like a live stream anchored a second late.
    unheld = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    unheld.start()
    for _ in range(200):
        unheld.arrived(0.02, queued)
        await clock.advance(0.02)
        unheld.advance(CHUNK)
    assert unheld.realigns >= 1


async def test_a_live_stream_on_time_never_realigns(clock) -> None:
    pacer = MediaPacer(RATE, clock, max_lead=0.04, realign_window=1.0)
    waits = await _produce(pacer, clock, [i * 0.02 for i in range(300)])
    assert pacer.realigns == 0 and max(waits) == 0.0


async def test_admit_is_arrived_then_delay_and_restarts_after_a_silence(clock) -> None:
    # Two pacers see the same arrivals: one through admit(), one through the separate
    # calls a sender would otherwise make. Arrivals: a burst, real time, then a silence.
    one = MediaPacer(RATE, clock, max_lead=0.04, max_lag=0.2, realign_window=0.5)
    two = MediaPacer(RATE, clock, max_lead=0.04, max_lag=0.2, realign_window=0.5)
    t0 = clock.now()
    times = [0.0] * 4 + [k * 0.02 for k in range(1, 80)] + [2.0 + k * 0.02 for k in range(20)]
    for k, t in enumerate(times):
        if t0 + t > clock.now():
            await clock.advance(t0 + t - clock.now())
        now = clock.now()
        got = one.admit(0.02, 0.0, now)
        if two.started and now - two.due() > two.max_lag:
            two.reset()  # what admit() does after a silence longer than max_lag
        elif two.started:
            two.arrived(0.02, 0.0, now)
        two.due()
        assert got == pytest.approx(two.delay(now), abs=1e-12), k
        assert one.due() == pytest.approx(two.due(), abs=1e-12)
        if got == 0.0:
            one.advance(CHUNK)
            two.advance(CHUNK)
    assert one.realigns == two.realigns >= 1  # the start-up burst was forgotten
    assert one.samples_sent < 25 * CHUNK  # the timeline restarted after the silence
