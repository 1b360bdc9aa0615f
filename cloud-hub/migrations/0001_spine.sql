-- Kibanda hub schema, spine.
-- Every tenant-owned table leads its primary key with tenant_id, so the schema can be
-- distributed by tenant (Citus) without changing a key.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outlets (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    code        text NOT NULL,
    name        text NOT NULL,
    timezone    text NOT NULL,
    currency    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE enrollment_codes (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    code_id         text NOT NULL,
    secret          text NOT NULL,
    outlet_id       uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    used_by_device  uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);
-- Edges look codes up by their public id before they know the tenant.
CREATE INDEX enrollment_codes_by_code_id ON enrollment_codes (code_id);

CREATE TABLE devices (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    outlet_id         uuid NOT NULL,
    kind              text NOT NULL,
    cert_fingerprint  bytea NOT NULL UNIQUE,
    software          text NOT NULL DEFAULT '',
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz,
    revoked_at        timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);
-- A device id is an edge's node id: globally unique, never reused across tenants.
CREATE UNIQUE INDEX devices_id_unique ON devices (id);

CREATE TABLE sync_cursors (
    tenant_id          uuid NOT NULL,
    device_id          uuid NOT NULL,
    acked_through_seq  bigint NOT NULL DEFAULT 0,
    acked_hash         bytea NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

CREATE TABLE ops (
    tenant_id    uuid NOT NULL,
    device_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    outlet_id    uuid NOT NULL,
    kind         text NOT NULL,
    hlc_wall_ms  bigint NOT NULL,
    hlc_logical  integer NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    body         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, seq)
);

CREATE TABLE orders (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    outlet_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    number        bigint NOT NULL,
    order_type    text NOT NULL,
    state         text NOT NULL,
    currency      text NOT NULL,
    net_minor     bigint NOT NULL,
    tax_minor     bigint NOT NULL,
    total_minor   bigint NOT NULL,
    paid_minor    bigint NOT NULL,
    opened_at_ms  bigint NOT NULL,
    closed_at_ms  bigint,
    doc           jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX orders_by_opened ON orders (tenant_id, opened_at_ms DESC, id DESC);

-- Facts from an edge that contradicted the order they named: kept, never silently dropped.
CREATE TABLE order_anomalies (
    tenant_id   uuid NOT NULL,
    device_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    order_id    uuid,
    error       text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, seq)
);

CREATE TABLE security_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid,
    device_id   uuid,
    kind        text NOT NULL,
    detail      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Hub-wide secrets (the device CA, the dev token key). Not tenant data.
CREATE TABLE hub_secrets (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
