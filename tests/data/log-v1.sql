-- A training log written by heelraise with log schema version 1 (commit 79f35c7),
-- dumped with sqlite3's iterdump; tests/test_log_migration.py opens it.
BEGIN TRANSACTION;
CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    hold_s REAL,
    peak_deg REAL,
    verdict TEXT,
    payload TEXT NOT NULL
);
INSERT INTO "holds" VALUES('6ab78d206d805a11bcadacdbb513e84b','left','20260131T070000-3f9a','2026-01-31T07:01:36.500Z','2026-01-31',36.5,27.5,'ok','{"v":1,"id":"6ab78d206d805a11bcadacdbb513e84b","device":"left","session":"20260131T070000-3f9a","time":"2026-01-31T07:01:36.500Z","t_s":96.5,"start_s":60.0,"end_s":96.5,"hold_s":36.5,"peak_deg":27.5,"verdict":"ok"}');
CREATE TABLE pain (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    pain REAL NOT NULL,
    set_id TEXT,
    source TEXT NOT NULL
);
INSERT INTO "pain" VALUES('r1','left','2026-01-31T07:20:00.000Z','2026-01-31',3.0,'732be502641e577da3af7863d221014e','mqtt');
CREATE TABLE rejected (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    last_topic TEXT NOT NULL,
    last_error TEXT NOT NULL,
    last_time TEXT NOT NULL
);
INSERT INTO "rejected" VALUES('set: missing field ''id''',1,'heelraise/left/set','set: missing field ''id''','2026-12-01T08:17:55.206Z');
CREATE TABLE reps (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    stage INTEGER,
    set_index INTEGER,
    rep_index INTEGER,
    up_s REAL,
    hold_s REAL,
    down_s REAL,
    peak_deg REAL,
    bottom_deg REAL,
    verdict TEXT,
    payload TEXT NOT NULL
);
INSERT INTO "reps" VALUES('3ae703cd83ad52888a6896155cc9404a','left','20260131T070000-3f9a','2026-01-31T07:00:38.400Z','2026-01-31',2,1,3,1.2,0.3,2.9,29.8,-5.0,'too_fast_up','{"v":1,"id":"3ae703cd83ad52888a6896155cc9404a","device":"left","session":"20260131T070000-3f9a","time":"2026-01-31T07:00:38.400Z","t_s":38.4,"stage":2,"set_index":1,"index":3,"start_s":34.0,"top_s":35.2,"lower_s":35.5,"end_s":38.4,"up_s":1.2,"hold_s":0.3,"down_s":2.9,"peak_deg":29.8,"bottom_deg":-5.0,"height_cm":9.0,"verdict":"too_fast_up","faults":["too_fast_up"],"target":{"up_s":3.0,"min_up_s":2.0,"hold_s":0.5,"hold_min_s":0.0,"down_s":3.0,"min_down_s":2.0}}');
CREATE TABLE sets (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    start_time TEXT,
    day TEXT NOT NULL,
    set_index INTEGER,
    stage INTEGER NOT NULL,
    reps INTEGER NOT NULL,
    ok_reps INTEGER NOT NULL,
    target_lo INTEGER,
    target_hi INTEGER,
    tempo_compliance REAL,
    holds INTEGER NOT NULL,
    load_kg REAL,
    pain REAL,
    payload TEXT NOT NULL
);
INSERT INTO "sets" VALUES('732be502641e577da3af7863d221014e','left','20260131T070000-3f9a','2026-01-31T07:00:38.400Z','2026-01-31T07:00:18.000Z','2026-01-31',1,2,3,2,15,15,0.6667,0,0.0,3.0,'{"v":1,"id":"732be502641e577da3af7863d221014e","device":"left","session":"20260131T070000-3f9a","time":"2026-01-31T07:00:38.400Z","t_s":38.4,"start_time":"2026-01-31T07:00:18.000Z","start_s":18.0,"end_s":38.4,"index":1,"stage":2,"reps":3,"target_reps":[15,15],"ok_reps":2,"tempo_compliance":0.6667,"rest_before_s":null,"holds":0,"hold_s":[],"load_kg":0.0,"pain":2,"rep_detail":[{"index":1,"up_s":3.1,"hold_s":0.6,"down_s":2.9,"peak_deg":31.4,"verdict":"ok"},{"index":2,"up_s":3.1,"hold_s":0.6,"down_s":2.9,"peak_deg":31.4,"verdict":"ok"},{"index":3,"up_s":1.2,"hold_s":0.3,"down_s":2.9,"peak_deg":29.8,"verdict":"too_fast_up"}]}');
INSERT INTO "sets" VALUES('00000000000000000000000000000002','left','20260131T070000-3f9a','20260131T071000Z','20260131T070500Z','2026-01-31',2,2,3,2,15,15,0.6667,0,0.0,2.0,'{"v":1,"id":"00000000000000000000000000000002","device":"left","session":"20260131T070000-3f9a","time":"20260131T071000Z","t_s":38.4,"start_time":"20260131T070500Z","start_s":18.0,"end_s":38.4,"index":2,"stage":2,"reps":3,"target_reps":[15,15],"ok_reps":2,"tempo_compliance":0.6667,"rest_before_s":null,"holds":0,"hold_s":[],"load_kg":0.0,"pain":2,"rep_detail":[{"index":1,"up_s":3.1,"hold_s":0.6,"down_s":2.9,"peak_deg":31.4,"verdict":"ok"},{"index":2,"up_s":3.1,"hold_s":0.6,"down_s":2.9,"peak_deg":31.4,"verdict":"ok"},{"index":3,"up_s":1.2,"hold_s":0.3,"down_s":2.9,"peak_deg":29.8,"verdict":"too_fast_up"}]}');
CREATE TABLE stiffness (
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    stiffness REAL NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (device, day)
);
INSERT INTO "stiffness" VALUES('left','2026-02-01',2.0,'2026-02-01T06:00:00.000Z','cli');
CREATE INDEX sets_device_time ON sets (device, time);
CREATE INDEX reps_device_time ON reps (device, time);
CREATE INDEX holds_device_time ON holds (device, time);
COMMIT;
PRAGMA user_version=1;
