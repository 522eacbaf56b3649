-- The whole store. Every table that is not `identities` refers to a person by member_key only,
-- so analysis never needs to read a name, phone number or email.
-- Sections are owned by one module each (named in the header); change a section with its module.

-- db.py ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,   -- schema_version, created_at, created_by_version
    value VARCHAR NOT NULL
);

-- Secrets for keyed pseudonyms (HMAC-SHA256). They live only inside the encrypted store and never
-- appear in an export. 'member' keys member_key; 'suppression' keys the opt-out hashes and is never
-- rotated, because an erased member's hashes could not be recomputed under a new key.
CREATE TABLE IF NOT EXISTS keys (
    name       VARCHAR PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- privacy/pseudonymise.py: caller pseudonyms. An export's caller id (often a volunteer's name or a
-- short number) is replaced at import by C0001, C0002, ...; only its keyed hash (keys['caller']) is
-- kept, so the same caller gets the same pseudonym in every later import and no raw id is stored.
CREATE TABLE IF NOT EXISTS caller_ids (
    source_hash VARCHAR PRIMARY KEY,      -- HMAC of the normalised caller id from the export
    caller      VARCHAR NOT NULL UNIQUE   -- 'C0042'
);

CREATE TABLE IF NOT EXISTS settings (
    key   VARCHAR PRIMARY KEY,       -- dp_contact, organisation, ...
    value VARCHAR NOT NULL
);

-- members: who, where, and how old; never a name or a phone number ----------------------------
CREATE TABLE IF NOT EXISTS members (
    member_key  VARCHAR PRIMARY KEY, -- HMAC of the membership number under keys['member']
    branch      VARCHAR,
    ward        VARCHAR,
    postcode    VARCHAR,             -- full postcode; reports generalise it to sector or district
    age         INTEGER,             -- age in whole years when last imported; no date of birth is held
    joined_on   DATE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    erased_at   TIMESTAMP            -- set by erasure; the row then holds no quasi-identifiers either
);

-- identities: the only table holding direct identifiers ---------------------------------------
CREATE TABLE IF NOT EXISTS identities (
    member_key        VARCHAR PRIMARY KEY,
    membership_number VARCHAR NOT NULL,
    first_name        VARCHAR,
    last_name         VARCHAR,
    phone             VARCHAR,        -- E.164, e.g. +447700900123
    email             VARCHAR,
    address           VARCHAR,
    -- Keyed hashes (keys['suppression']) of the E.164 phone and the normalised membership number,
    -- written with the identity, so opt-out suppression is one join and needs no per-row hashing.
    phone_hash        VARCHAR,
    membership_hash   VARCHAR,
    -- Other ids the member is known by in the tools organisers use (schema 2), so a call export
    -- that carries one of them instead of the membership number still finds its member.
    nationbuilder_id  VARCHAR,
    van_id            VARCHAR,
    external_id       VARCHAR,
    -- member_key as the 64-bit number its 16 hex digits spell (db.key_number_sql; schema 6), so a
    -- list's identity join compares integers, not strings: at union scale (1.5 million identities)
    -- that halves the join. A lookup never depends on it: a row without one is found by member_key.
    key_number        UBIGINT
);

-- ingest.py -------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS imports (
    import_id   VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,     -- members | calls | services | optouts | returns
    file_name   VARCHAR NOT NULL,     -- base name only
    sha256      VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    imported_by VARCHAR,
    rows_read   INTEGER NOT NULL,
    loaded      INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
);

-- One row per call attempt. Outcome vocabulary: answered, no_answer, voicemail, busy, wrong_number,
-- call_back_later, refused, do_not_call, deceased_moved.
-- No primary-key indexes on calls, call_needs and call_skills: they made bulk imports 3x slower
-- (schema 4). Each call is held once because the import adds only calls not already held.
-- call_id and member_key are stored uncompressed (schema 5). They are digests, nearly all distinct
-- within a row group, so DuckDB's dictionary+FSST compression only halves them, and choosing it
-- cost about 1.5 s of a 2 million call import. Scans read them no slower; the price is about 25 MB
-- of file per million calls.
CREATE TABLE IF NOT EXISTS calls (
    call_id           VARCHAR NOT NULL USING COMPRESSION uncompressed,  -- the export's id, or a digest
    member_key        VARCHAR NOT NULL USING COMPRESSION uncompressed,
    round             VARCHAR NOT NULL,      -- calling round or campaign, e.g. 'R1'
    caller            VARCHAR,               -- pseudonymous caller id, e.g. 'C0042'
    called_at         TIMESTAMP NOT NULL,
    outcome           VARCHAR NOT NULL,
    wellbeing         INTEGER,               -- 1 (struggling) .. 5 (doing well); answered calls only
    needs_support     BOOLEAN,
    urgency           VARCHAR,               -- low | medium | high
    keen_to_volunteer BOOLEAN,
    dp_query          VARCHAR,               -- how_got_number | complaint | other
    notes             VARCHAR,               -- sensitive free text; leaves the store only in a subject-access export
    import_id         VARCHAR
);

-- Need categories: food, medicine, isolation, mental_health, financial, housing, digital, other.
CREATE TABLE IF NOT EXISTS call_needs (
    call_id  VARCHAR NOT NULL,
    category VARCHAR NOT NULL             -- once per call (the import inserts DISTINCT pairs)
);

CREATE TABLE IF NOT EXISTS call_skills (
    call_id VARCHAR NOT NULL,
    skill   VARCHAR NOT NULL                -- shopping, prescriptions, befriending, lifts, digital_help, ...
);

-- services.py -----------------------------------------------------------------------------------
-- The community map. areas holds the wards a service covers; an empty list means the whole area.
CREATE TABLE IF NOT EXISTS services (
    service_id VARCHAR PRIMARY KEY,
    name       VARCHAR NOT NULL,
    category   VARCHAR NOT NULL,            -- same vocabulary as need categories
    areas      VARCHAR[],
    contact    VARCHAR,
    aliases    VARCHAR[],
    -- active | inactive | defunct | temporarily closed (Open Referral UK, schema 2). Only active
    -- services are offered for signposting; the others stay for the history of what was referenced.
    status     VARCHAR DEFAULT 'active'
);

-- Services referenced on a call. service_id is NULL for a name not (yet) in the directory.
CREATE TABLE IF NOT EXISTS call_services (
    call_id    VARCHAR NOT NULL,
    service_id VARCHAR,
    raw_name   VARCHAR NOT NULL
);

-- optouts.py ------------------------------------------------------------------------------------
-- The suppression register. Hashes are HMAC-SHA256 under keys['suppression'], so a suppression
-- outlives the erasure of the identity it was recorded against.
CREATE TABLE IF NOT EXISTS optouts (
    optout_id         VARCHAR PRIMARY KEY,
    member_key        VARCHAR,              -- NULL when it matched nobody yet
    phone_hash        VARCHAR,
    membership_hash   VARCHAR,
    scope             VARCHAR NOT NULL,     -- calls | all
    reason            VARCHAR NOT NULL,     -- asked_not_to_be_called | complaint | deceased | moved_away | other
    source            VARCHAR NOT NULL,     -- call | manual | import | return | erasure
    recorded_by       VARCHAR,
    recorded_at       TIMESTAMP NOT NULL,
    withdrawn_at      TIMESTAMP,
    withdrawn_by      VARCHAR,
    withdrawal_reason VARCHAR
);

-- followups.py / needs.py -----------------------------------------------------------------------
-- The state of each member's need, so nobody falls through.
CREATE TABLE IF NOT EXISTS followups (
    member_key  VARCHAR PRIMARY KEY,
    call_id     VARCHAR,                   -- the answered call that recorded the need
    state       VARCHAR NOT NULL,          -- open | assigned | in_progress | resolved | unreachable
    opened_at   TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    assigned_to VARCHAR,
    resolved_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS followup_events (
    member_key VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    state      VARCHAR NOT NULL,
    changed_by VARCHAR,
    list_id    VARCHAR
);

-- Every list that left the building.
CREATE TABLE IF NOT EXISTS lists (
    list_id      VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,         -- followup | next_round
    purpose      VARCHAR NOT NULL,
    recipient    VARCHAR NOT NULL,
    created_by   VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    shred_by     DATE NOT NULL,
    destroyed_at TIMESTAMP,
    destroyed_by VARCHAR,
    row_count    INTEGER NOT NULL,
    format       VARCHAR NOT NULL,
    data_categories VARCHAR[],             -- which kinds of data the list held, for a breach report
    filters      VARCHAR,                  -- JSON: the branch / ward / category (or round rules) it was built from
    excluded     VARCHAR                   -- JSON: people left out by suppression when it was made, by reason
);

-- member_key becomes NULL on erasure; the row stays so the list still counts its people.
-- digest holds keyed hashes (BLAKE2b keyed with keys['member']) of the protected cells as issued (first name, ward,
-- needs), so a returned file's edits are caught; erasure clears it with member_key.
CREATE TABLE IF NOT EXISTS list_members (
    list_id     VARCHAR NOT NULL,
    row_number  INTEGER NOT NULL,
    member_key  VARCHAR,
    digest      VARCHAR,
    outcome     VARCHAR,                   -- from the returned list: resolved | unreachable | needs_more_help | opted_out
    called_on   DATE,
    returned_at TIMESTAMP,
    PRIMARY KEY (list_id, row_number)
);

-- How each list left the building (issue 16): encrypted, and by which method, or not and why. Never the
-- passphrase. A separate table, so lists made before it existed read as "not recorded".
CREATE TABLE IF NOT EXISTS list_protection (
    list_id    VARCHAR PRIMARY KEY,
    method     VARCHAR NOT NULL,           -- xlsx-agile-aes256 | pdf-aes256 | none
    reason     VARCHAR                     -- why it was not encrypted (--unprotected REASON); NULL when it was
);

-- dataprotection.py -----------------------------------------------------------------------------
-- Append-only and hash-chained. Never holds a name, phone number, email or note.
CREATE TABLE IF NOT EXISTS audit_log (
    seq           BIGINT PRIMARY KEY,
    logged_at     TIMESTAMP NOT NULL,
    actor         VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,
    object_id     VARCHAR,
    counts        VARCHAR,                 -- JSON object of counts
    member_digest VARCHAR,                 -- SHA-256 over the sorted member keys involved
    prev_hash     VARCHAR NOT NULL,
    hash          VARCHAR NOT NULL
);

-- The chain's newest entry, written with it, so deleting the last entries is detectable too.
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY,                -- always 1
    seq  BIGINT NOT NULL,
    hash VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS dp_queries (
    call_id    VARCHAR PRIMARY KEY,
    status     VARCHAR NOT NULL,           -- open | passed_to_dp_team | closed
    updated_at TIMESTAMP NOT NULL,
    updated_by VARCHAR
);

-- boundaries.py ---------------------------------------------------------------------------------
-- Ward shapes for maps: public geography (ONS Open Geography or the synthetic organisation's own),
-- not personal data. One row per store ward (members.ward) that a boundary file matched.
CREATE TABLE IF NOT EXISTS ward_boundaries (
    ward       VARCHAR PRIMARY KEY,        -- the store's ward, as members.ward spells it
    code       VARCHAR,                    -- the file's ward code, e.g. E05009999 (WD20CD)
    name       VARCHAR,                    -- the file's ward name (WD20NM)
    geometry   VARCHAR NOT NULL,           -- GeoJSON Polygon or MultiPolygon, simplified for display
    geographic BOOLEAN NOT NULL,           -- longitude/latitude; otherwise metres (British National Grid)
    source     VARCHAR NOT NULL,           -- the file's base name, or 'synthetic'
    loaded_at  TIMESTAMP NOT NULL
);
