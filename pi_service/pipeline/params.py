"""Every tunable of the signal pipeline, in one place, with its unit.

The detector is a chain of small decisions (is the foot still, did it leave rest,
is this an impact, did it land); each threshold is a field here so a newcomer can
see what it does and change it in one place, and a test can pass its own. The
defaults come from the signal facts in DESIGN.md and from measuring on real
foot-IMU recordings and the simulators; shares are of the person's own usual
raise (its peak above rest), so a shallow raiser is judged on their own scale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorParams:
    """Parameters of the pipeline; units are in the names (``_s``, ``_deg``, ``_g``, ...)."""

    # -- the stream ----------------------------------------------------------------------
    rate_hz: float = 100.0
    """Internal sample rate: every stream is resampled onto this grid, so rates,
    jitter, repeated stamps and drift all look the same downstream."""
    accel_limit_g: float = 16.0
    """A sample with an axis beyond this is not a reading (no supported chip reaches it)."""
    gyro_limit_dps: float = 4000.0
    """The same for the gyro (the supported chips top out at 2000 deg/s)."""
    gap_s: float = 0.1
    """A longer step between samples is a gap, reported; shorter steps are just jitter."""
    bridge_gap_s: float = 1.0
    """Gaps up to this are bridged (their samples unknown); longer ones restart."""

    # -- gravity and features ------------------------------------------------------------
    cutoff_hz: float = 3.0
    """Causal low-pass of the gravity estimate used for live decisions."""
    fit_cutoff_hz: float = 8.0
    """Zero-phase low-pass of one movement's pitch before its boundaries are fitted."""
    fusion_gain: float = 0.5
    """imufusion AHRS gain: how fast the accelerometer corrects the gyro."""
    fusion_rejection_deg: float = 0.0
    """Accelerometer ignored by the AHRS while it disagrees with the gyro by more (0:
    never). Ignoring it through a walk lets the gyro's scale error build up to tens of
    degrees; impacts are already taken out of it, and a quick raise is too short for
    the gain to bend."""
    fusion_rejection_timeout_s: float = 5.0
    """After this long ignoring the accelerometer the AHRS trusts it again."""
    impact_g: float = 0.4
    """A second difference of the acceleration between grid samples beyond this is a jolt:
    an impact (heel strike, landing, knock), or a quick raise stopping dead at its top
    (a step in the acceleration, told apart by ``impact_still_g``)."""
    impact_still_g: float = 0.1
    """A jolt that only stepped the acceleration to a new level, with the foot changing
    it by less than this between samples after it, is a movement stopping dead (a quick
    raise's top), no impact."""
    glitch_g: float = 1.5
    """A sample this far from the median of the 50 ms up to it is kept out of the
    gravity estimate (see :meth:`~.gravity.GravityEstimator._deglitch`)."""
    impact_lead_s: float = 0.05
    """Where the foot was when an impact came is read this long before it."""
    flight_g: float = 0.35
    """|a| below this is free fall: the foot is in the air."""
    flight_s: float = 0.08
    """Free fall this long is a hop, a jump or a running stride, never a raise."""

    # -- standing, calibration and the raise axis -----------------------------------------
    still_s: float = 1.0
    """Standing still this long calibrates the standing baseline."""
    still_accel_std_g: float = 0.02
    """Per-axis spread of the raw accelerometer allowed while standing still."""
    still_rate_dps: float = 3.0
    """The gravity direction turning slower than this is still."""
    settle_s: float = 0.5
    """Still this long after a restart or a new frame of reference: at rest."""
    gravity_range_g: tuple[float, float] = (0.8, 1.25)
    """A still |a| outside this is not a sensor at rest on a foot (wrong unit, broken chip)."""
    dorsiflex_max_deg: float = 25.0
    """The ankle dorsiflexes about 20 deg: a larger excursion from rest is a raise."""
    knocks_max: int = 2
    """More impacts than this between standings is a disturbance (walking, handling)."""
    weak_votes: int = 3
    """Agreeing smaller excursions that decide the raise direction without a large one."""
    weak_vote_deg: float = 8.0
    """An excursion this large is a weak vote on the raise direction."""
    weak_vote_s: float = 0.4
    """... if it stays out this long: a toe tap (toes up and down in a quarter second,
    turning about the heel) is no small raise."""
    return_deg: float = 8.0
    """Back within this of its rest orientation, an excursion has returned."""
    roll_max_deg: float = 25.0
    """A still orientation this far off the pitch plane means the sensor was re-mounted."""
    refine_axis_deg: float = 2.0
    """Later large excursions this far from the current axis refine it."""
    foreign_vote_deg: float = 30.0
    """A large excursion whose far side lies further than this from a settled axis turned
    the foot about another one (a step-up, a stride): it says which side is up, not
    where the axis lies."""
    settled_votes: int = 3
    """Large excursions after the decision before the axis counts as settled: the first
    may have been decided by a stride."""
    max_pending_s: float = 120.0
    """Samples kept while the raise direction is unknown; then the best evidence decides."""

    # -- phases (shares of the person's typical raise) -----------------------------------
    on_share: float = 0.1
    """Leaving rest by this much: a movement starts."""
    count_share: float = 0.45
    """A raise below this is a partial, not a rep."""
    count_max_deg: float = 15.0
    """A raise this high always counts (about 5 cm), whatever the usual one."""
    min_peak_deg: float = 10.0
    """A raise goes at least this far above level: a heel coming up from below a step to
    level is no raise, however far it came."""
    drop_share: float = 0.2
    """Below the top by this much (and moving down): lowering."""
    heel_drop_share: float = 0.1
    """Below rest by this much while lowering: a heel drop."""
    return_share: float = 0.25
    """Back within this share of the drop depth: returned to level."""
    settle_share: float = 0.25
    """Within this share of the raise above rest: the lowering can end."""
    settle_confirm_s: float = 0.1
    """A lowering that seems over must stay near rest this long (walking goes on below)."""
    heel_strike_deg: float = 8.0
    """An impact with the toes up further than this below rest is a heel strike (walking)."""
    heel_strike_accel_deg: float = 20.0
    """The same without a gyro, where a quick lowering's own deceleration reads as up to
    ten degrees toes-up just before the heel lands."""
    landing_dip_deg: float = 10.0
    """How far below rest a quick lowering's reading dips before its heel lands; a
    movement that went deeper (a lunge, a hop) did not land from a raise."""
    landing_share: float = 0.35
    """An impact this close to rest ends the lowering: the heel landed."""
    pace_share: float = 1.0 / 3.0
    """The pace over this first share of the range predicts the rise time."""
    lower_speed_share: float = 0.1
    """Per second: moving down at least this fast is lowering, not sagging at the top."""
    still_speed_share: float = 0.1
    """Per second: slower than this is still."""
    top_speed_share: float = 0.2
    """Of the rise's peak speed: slowed to this, the rise is at the top."""
    settle_speed_share: float = 0.15
    """Of the lowering's peak speed: slowed to this near rest, the lowering is over."""
    min_rise_s: float = 0.1
    """A rise lasts at least this long before it can top out."""
    rest_follow_s: float = 5.0
    """The rest level follows the resting foot with this time constant."""
    quiet_s: float = 1.0
    """Still this long after walking or a stumble: back at rest."""
    push_s: float = 0.15
    """A quick raise's push off the ground jolts the sensor this long after it shows."""
    knock_settle_s: float = 0.15
    """A knock bends the live pitch this long after it: no lowering is read off that."""
    touchdown_s: float = 0.3
    """An impact this soon after the top is reached is a forefoot landing (a step) ..."""
    touchdown_moving_s: float = 0.1
    """... if the foot was still moving this shortly before it: a landing ends a
    movement, a knock comes to a foot already still at its top (bench/accuracy.py: the
    step and lunge landings came at most 0.08 s after the top, with the foot moving at
    half its peak speed or more; knocks on held tops 0.17 s or later, the foot still)."""
    touchdown_speed_dps: float = 20.0
    """... moving at this speed at least: a slow raise's top sways faster than a fifth
    of its rise's speed, and a foot about to land moves at a stride's speed."""
    landing_grace_s: float = 0.3
    """An impact this soon after a rep ends is its landing still ringing."""
    rested_s: float = 0.2
    """Resting this long, the foot is standing: a jolt then (a stamp, the other foot,
    the push of a quick raise) is no step landing. Sooner, it may be."""
    hold_s: float = 10.0
    """A top held at least this long is an isometric hold."""
    max_raise_deg: float = 75.0
    """No heel raise turns the foot further than this above rest."""
    max_raise_accel_deg: float = 110.0
    """The same read from the accelerometer alone, which a quick raise's own
    acceleration makes read up to half as much again. A live peak past this, without a
    gyro, is that acceleration's: on the heel counter, far from the ball of the foot, a
    quick raise reads 110-190 deg for a tenth of a second; such a raise counts only if
    it stood still at its top at a height a foot can turn."""
    max_roll_deg: float = 20.0
    """No heel raise tilts the foot further than this out of its pitch plane at the top.
    The heel inverts somewhat as it rises; step-ups and lunges read through the raise
    axis tilt it 40-80 deg (bench/accuracy.py: every simulated raise under 8 deg, with
    the gyro or without; the false reps in step-ups and lunges 38-77 deg)."""
    roll_window_s: float = 0.1
    """The tilt at the top is the median over this far either side of it."""
    max_drop_deg: float = 35.0
    """No heel drops further than this below rest (off a step, about 20 deg)."""
    min_stroke_s: float = 0.12
    """No rise or lowering of a heel raise is quicker (the quickest real ones: 0.2 s)."""
    min_live_stroke_s: float = 0.08
    """The same for phases read off the live detection, which catches a quick stroke's
    middle only."""
    max_movement_s: float = 90.0
    """A movement that has not come back to rest by then is not a raise."""
    lookback_s: float = 4.0
    """History kept before a movement, for its onset fit."""
    velocity_lag_s: float = 0.1
    """Pitch rate from the difference over this interval."""
    typical_of_last: int = 20
    """The typical raise is the median of this many recent ones."""
    fit_share: float = 0.02
    """Lowest share of a stroke's travel its onset and offset are fitted from."""
    shape_prior: float = 2e-6
    """Cost of a stroke shape's distance from minimum jerk in the boundary fit, with the
    gyro fused: the pitch is true enough to tell a cosine or skewed stroke from it, but
    with none at all the sway at a loaded top buys shapes 0.5 s off (bench/accuracy.py:
    p95 0.52 s with 0, 0.33 s with this; the other shapes the same)."""
    shape_prior_accel: float = 1e-4
    """The same from the accelerometer alone, whose stroke ends the sensor's own
    acceleration bends by tenths of a degree: without it they buy wrong shapes."""
    plateau_s: float = 0.3
    """A shorter hold has no plateau level worth measuring ..."""
    still_top_dps: float = 120.0
    """... but without a gyro, a rise faster than this (peak, deg/s) reads its own
    acceleration as 10-20 deg of extra pitch as it stops and as the lowering starts
    (rushed raises: 150-400 deg/s; tempo ones under 110): its top is read where it
    stood still ..."""
    still_top_s: float = 0.05
    """... for this long ..."""
    still_top_share: float = 0.1
    """... reading slower than this share of the rise's peak speed (unfiltered)."""
