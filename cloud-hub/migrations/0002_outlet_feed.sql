-- The downstream feed: per outlet, a numbered stream of what the hub decided for it.

CREATE TABLE outlet_feed_heads (
    tenant_id  uuid NOT NULL,
    outlet_id  uuid NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, outlet_id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);

CREATE TABLE outlet_feed (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL,
    key         text NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, seq)
);

-- The outlet catalog as the hub holds it (the feed carries its changes to the edge).
CREATE TABLE catalog_items (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    item_id     text NOT NULL,
    doc         jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, item_id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);
