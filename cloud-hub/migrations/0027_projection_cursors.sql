-- How far the hub has projected each device's ops into orders, ledgers, reports and events.
-- A batch is acknowledged once its ops are stored. A trickle is projected in that same
-- transaction; a backlog (an edge back after days offline) by the projector that follows it,
-- exactly once: the cursor moves in the projection's own transaction.
CREATE TABLE projection_cursors (
    tenant_id              uuid NOT NULL,
    device_id              uuid NOT NULL,
    projected_through_seq  bigint NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

-- Everything stored so far was projected when it was stored.
INSERT INTO projection_cursors (tenant_id, device_id, projected_through_seq)
SELECT tenant_id, device_id, acked_through_seq FROM sync_cursors;
