//! Tenant isolation over every hub endpoint. Tenant "alpha" has data behind every route; tenant
//! "bravo" tries each route with its own valid token — naming alpha in the path, and naming
//! its own tenant with alpha's ids. Every attempt is a 404 (or an empty list), no response body
//! carries any of alpha's identifiers or names, and every attempted change left alpha's data
//! as it was.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

#[test]
fn another_tenants_token_sees_and_changes_nothing_on_any_endpoint() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    driver.block_on(async {
        tenant_with_outlet(&pool, "alpha", "alpha-cbd").await;
        tenant_with_outlet(&pool, "bravo", "bravo-cbd").await;
        let alpha = dev_token(&pool, "alpha", "admin").await;
        let bravo = dev_token(&pool, "bravo", "admin").await;
        let (alpha_id, alpha_outlet): (Uuid, Uuid) = sqlx::query_as(
            "SELECT t.id, o.id FROM tenants t JOIN outlets o ON o.tenant_id = t.id WHERE t.slug = 'alpha'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let call = |method: Method, path: String, token: String, body: Option<Value>| {
            let client = client.clone();
            let url = hub.url(&path);
            async move {
                let mut request = client.request(method, url).bearer_auth(token);
                if let Some(body) = body {
                    request = request.json(&body);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
        };

        // Alpha's data behind every route.
        let staff_id = Uuid::now_v7();
        for (method, path, body) in [
            (Method::PUT, "/v1/alpha/pos/outlets/alpha-cbd/catalog/items", json!({"items": [{"id": "sku-alpha-secret", "name": "Alpha Secret Blend", "category": "tea", "price_minor": 12_345, "tax_mode": "inclusive", "tax_rates": []}]})),
            (Method::PUT, "/v1/alpha/pos/outlets/alpha-cbd/price-books/alpha-happy", json!({"name": "Alpha Happy Hour", "scope": "base", "prices": [{"item_id": "sku-alpha-secret", "price_minor": 999}]})),
            (Method::PUT, "/v1/alpha/pos/outlets/alpha-cbd/config", json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180, "receipt_footer": "Alpha footer"})),
            (Method::PUT, "/v1/alpha/pos/outlets/alpha-cbd/staff", json!({"staff": [{"id": staff_id, "name": "Alpha Wanjiru", "role": "manager", "pin": "2468"}]})),
        ] {
            let (status, body) = call(method, path.into(), alpha.clone(), Some(body)).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
        let order_id = Uuid::now_v7();
        let device_id = Uuid::now_v7();
        let intent_id = Uuid::now_v7();
        let delivery_id = Uuid::now_v7();
        sqlx::query("INSERT INTO devices (tenant_id, id, outlet_id, kind, cert_fingerprint) VALUES ($1, $2, $3, 'edge', $4)")
            .bind(alpha_id).bind(device_id).bind(alpha_outlet).bind(device_id.as_bytes().to_vec())
            .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO orders (tenant_id, id, outlet_id, device_id, number, order_type, state, currency,
                                 net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, doc)
             VALUES ($1, $2, $3, $4, 4242, 'take_out', 'open', 'KES', 0, 0, 0, 0, 0, $5)",
        )
        .bind(alpha_id).bind(order_id).bind(alpha_outlet).bind(device_id)
        .bind(serde_json::to_value(shared_model::Order::from_opened(&shared_model::OrderEvent::Opened {
            order_id: shared_model::OrderId(order_id),
            number: 4242,
            order_type: shared_model::OrderType::TakeOut,
            currency: shared_model::Currency::kes(),
            opened_at_ms: 0,
        }).unwrap()).unwrap())
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO payment_intents (tenant_id, id, outlet_id, device_id, order_id, method, msisdn, amount_minor, currency, state)
             VALUES ($1, $2, $3, $4, $5, 'mpesa_stk', '254700000042', 116, 'KES', 'prompted')",
        )
        .bind(alpha_id).bind(intent_id).bind(alpha_outlet).bind(device_id).bind(order_id)
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO integration_events (tenant_id, provider, event_id, event_type, outcome, detail)
             VALUES ($1, 'treasury', 'evt-alpha', 'payment_captured', 'applied', 'Alpha detail')",
        )
        .bind(alpha_id).execute(&pool).await.unwrap();
        let (status, placed) = call(Method::POST, "/v1/alpha/pos/outlets/alpha-cbd/orders".into(), alpha.clone(),
            Some(json!({"channel": "delivery", "external_ref": "ALPHA-WEB-1", "customer": {"name": "Alpha Customer"},
                        "lines": [{"item_id": "sku-alpha-secret", "quantity": 1}]}))).await;
        assert_eq!(status, 201, "{placed}");
        let placed: Value = serde_json::from_str(&placed).unwrap();
        let cloud_order_id = placed["order"]["id"].as_str().unwrap().to_owned();
        let (status, noted) = call(Method::POST, format!("/v1/alpha/pos/orders/{cloud_order_id}/notes"), alpha.clone(),
            Some(json!({"author": "Alpha Author", "text": "Alpha note secret"}))).await;
        assert_eq!(status, 201, "{noted}");
        sqlx::query(
            "INSERT INTO offline_event_replay (tenant_id, id, outlet_id, order_id, rule, resolution, detail, occurred_at_ms)
             VALUES ($1, $2, $3, $4, 'paid_order_late_cancel', 'refund_requested', '{\"cancel_reason\": \"Alpha reason\"}', 1)",
        )
        .bind(alpha_id).bind(Uuid::now_v7()).bind(alpha_outlet).bind(Uuid::parse_str(&cloud_order_id).unwrap())
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO lan_devices (tenant_id, id, outlet_id, name, kind, state, registered_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, 'Alpha till', 'terminal', 'active', 1, 1)",
        )
        .bind(alpha_id).bind(Uuid::now_v7()).bind(alpha_outlet)
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, id, outlet_id, source, action, subject, reason, at_ms)
             VALUES ($1, $2, $3, 'till', 'refund', 'order:x', 'Alpha audit reason', 1)",
        )
        .bind(alpha_id).bind(Uuid::now_v7()).bind(alpha_outlet)
        .execute(&pool).await.unwrap();
        let transfer_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO stock_transfers (tenant_id, id, from_outlet_id, to_outlet_id, lines, note)
             VALUES ($1, $2, $3, $3, '[]', 'Alpha transfer note')",
        )
        .bind(alpha_id).bind(transfer_id).bind(alpha_outlet)
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO service_calls (tenant_id, id, service, kind, outlet_id, path, body)
             VALUES ($1, $2, 'inventory', 'transfer', $3, '/transfers', '{}')",
        )
        .bind(alpha_id).bind(cloud_hub::store::service_calls::call_id(transfer_id, "inventory.transfer")).bind(alpha_outlet)
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO stock_alerts (tenant_id, event_id, outlet_id, item_id, on_hand, unit, raised_at_ms)
             VALUES ($1, 'alpha-low-1', $2, 'alpha-sku-low', 3, 'each', 1)",
        )
        .bind(alpha_id).bind(alpha_outlet)
        .execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO deliveries (tenant_id, order_id, task_id, status, reported_at_ms)
             VALUES ($1, $2, 'ALPHA-TASK-1', 'assigned', 1)",
        )
        .bind(alpha_id).bind(Uuid::parse_str(&cloud_order_id).unwrap())
        .execute(&pool).await.unwrap();
        let (status, plan) = call(Method::PUT, "/v1/alpha/pos/outlets/alpha-cbd/floor-plan".into(), alpha.clone(),
            Some(json!({"tables": [{"code": "ALPHA-T1", "area": "Alpha Terrace", "seats": 4}]}))).await;
        assert_eq!(status, 200, "{plan}");
        let (status, promo) = call(Method::PUT, "/v1/alpha/pos/promotions/alpha-promo".into(), alpha.clone(),
            Some(json!({"name": "Alpha Promo Secret", "code": "ALPHACODE",
                        "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 500}}))).await;
        assert_eq!(status, 201, "{promo}");
        let (status, card) = call(Method::POST, "/v1/alpha/pos/gift-cards".into(), alpha.clone(),
            Some(json!({"code": "ALPHA-GIFT-1", "currency": "KES", "amount_minor": 777_000}))).await;
        assert_eq!(status, 201, "{card}");
        let (status, program) = call(Method::PUT, "/v1/alpha/pos/loyalty/program".into(), alpha.clone(),
            Some(json!({"currency": "KES", "earn_minor_per_point": 7_770, "point_value_minor": 100}))).await;
        assert_eq!(status, 200, "{program}");
        let (status, member) = call(Method::POST, "/v1/alpha/pos/loyalty/members".into(), alpha.clone(),
            Some(json!({"code": "ALPHA-MEMBER-1", "name": "Alpha Member Secret"}))).await;
        assert_eq!(status, 201, "{member}");
        let (status, voucher) = call(Method::POST, "/v1/alpha/pos/vouchers".into(), alpha.clone(),
            Some(json!({"code": "ALPHA-VCH-1", "currency": "KES", "value_minor": 1_000}))).await;
        assert_eq!(status, 201, "{voucher}");
        let (status, webhook) = call(Method::POST, "/v1/alpha/pos/webhooks".into(), alpha.clone(),
            Some(json!({"url": "https://alpha.example.com/hook", "events": ["pos.order.closed"]}))).await;
        assert_eq!(status, 201, "{webhook}");
        let webhook: Value = serde_json::from_str(&webhook).unwrap();
        let webhook_id = webhook["id"].as_str().unwrap().to_owned();

        // What must never show up in bravo's answers.
        let secrets = [
            alpha_id.to_string(), alpha_outlet.to_string(), order_id.to_string(), device_id.to_string(),
            intent_id.to_string(), staff_id.to_string(), webhook_id.clone(), "alpha-cbd".into(),
            "sku-alpha-secret".into(), "Alpha Secret Blend".into(), "Alpha Happy Hour".into(),
            "Alpha footer".into(), "Alpha Wanjiru".into(), "alpha.example.com".into(), "Alpha detail".into(),
            "254700000042".into(), cloud_order_id.clone(), "ALPHA-WEB-1".into(), "Alpha Customer".into(),
            "Alpha reason".into(), "ALPHA-GIFT-1".into(), "777000".into(), "Alpha audit reason".into(), "Alpha till".into(),
            transfer_id.to_string(), "Alpha transfer note".into(), "ALPHA-T1".into(), "Alpha Terrace".into(), "Alpha Promo Secret".into(), "ALPHACODE".into(), "alpha-sku-low".into(), "ALPHA-TASK-1".into(),
            "ALPHA-MEMBER-1".into(), "Alpha Member Secret".into(), "ALPHA-VCH-1".into(),
            "Alpha Author".into(), "Alpha note secret".into(),
        ];
        let before = snapshot(&pool, alpha_id).await;

        // Every route, as bravo: alpha in the path, then bravo's own path with alpha's ids.
        let ids = [
            ("{outlet}", "alpha-cbd".to_owned()), ("{id}", order_id.to_string()), ("{item_id}", "sku-alpha-secret".into()),
            ("{book_id}", "alpha-happy".into()), ("{staff_id}", staff_id.to_string()), ("{device_id}", device_id.to_string()),
        ];
        let routes: Vec<(Method, &str, Option<Value>)> = vec![
            (Method::GET, "/v1/{tenant}/pos/orders", None),
            (Method::GET, "/v1/{tenant}/pos/orders/{id}", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/catalog/items", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/catalog/items", Some(json!({"items": [{"id": "sku-alpha-secret", "name": "Hijacked", "category": "x", "price_minor": 1, "tax_mode": "inclusive", "tax_rates": []}]}))),
            (Method::DELETE, "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/price-books", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/price-books/{book_id}", Some(json!({"name": "Hijacked", "scope": "base", "prices": [{"item_id": "sku-alpha-secret", "price_minor": 1}]}))),
            (Method::DELETE, "/v1/{tenant}/pos/outlets/{outlet}/price-books/{book_id}", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/drawers", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/config", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/config", Some(json!({"timezone": "UTC", "utc_offset_minutes": 0}))),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/staff", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/staff", Some(json!({"staff": [{"id": staff_id, "name": "Hijacked", "role": "manager", "pin": "1111"}]}))),
            (Method::POST, "/v1/{tenant}/pos/outlets/{outlet}/staff/{staff_id}/logout", None),
            (Method::GET, "/v1/{tenant}/integrations/events", None),
            (Method::GET, "/v1/{tenant}/pos/payment-intents/{intent}", None),
            (Method::GET, "/v1/{tenant}/pos/devices", None),
            (Method::POST, "/v1/{tenant}/pos/devices/{device_id}/revoke", None),
            (Method::GET, "/v1/{tenant}/pos/webhooks", None),
            (Method::DELETE, "/v1/{tenant}/pos/webhooks/{webhook}", None),
            (Method::GET, "/v1/{tenant}/pos/webhooks/deliveries", None),
            (Method::POST, "/v1/{tenant}/pos/webhooks/deliveries/{delivery}/replay", None),
            (Method::GET, "/v1/{tenant}/pos/sync/devices", None),
            (Method::GET, "/v1/{tenant}/pos/sync/devices/{device_id}/chain", None),
            (Method::POST, "/v1/{tenant}/pos/outlets/{outlet}/orders", Some(json!({"channel": "delivery", "external_ref": "HIJACK-1", "lines": [{"item_id": "sku-alpha-secret", "quantity": 1}]}))),
            (Method::POST, "/v1/{tenant}/pos/orders/{cloud}/cancel", Some(json!({"reason": "hijack"}))),
            (Method::GET, "/v1/{tenant}/pos/offline-event-replay", None),
            (Method::GET, "/v1/{tenant}/pos/orders/{cloud}/notes", None),
            (Method::POST, "/v1/{tenant}/pos/orders/{cloud}/notes", Some(json!({"author": "x", "text": "hijack"}))),
            (Method::PATCH, "/v1/{tenant}/pos/orders/{cloud}/notes", Some(json!({"instructions": "hijack"}))),
            (Method::GET, "/v1/{tenant}/pos/orders/{id}/refunds", None),
            (Method::GET, "/v1/{tenant}/pos/audit-log", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/devices", None),
            (Method::GET, "/v1/{tenant}/pos/outlets", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}", None),
            (Method::POST, "/v1/{tenant}/pos/outlets/{outlet}/enrollment-codes", Some(json!({"ttl_minutes": 5}))),
            (Method::GET, "/v1/{tenant}/pos/gift-cards/ALPHA-GIFT-1", None),
            (Method::POST, "/v1/{tenant}/pos/gift-cards/ALPHA-GIFT-1/top-ups", Some(json!({"amount_minor": 1}))),
            (Method::POST, "/v1/{tenant}/pos/gift-cards/ALPHA-GIFT-1/expire", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/staff-sessions", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/staff-sessions?active=true", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/z-reports", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/z-reports/1", None),
            (Method::GET, "/v1/{tenant}/pos/loyalty/program", None),
            (Method::GET, "/v1/{tenant}/pos/loyalty/members/ALPHA-MEMBER-1", None),
            (Method::POST, "/v1/{tenant}/pos/loyalty/members/ALPHA-MEMBER-1/adjustments", Some(json!({"points": 5, "reason": "hijack"}))),
            (Method::GET, "/v1/{tenant}/pos/vouchers/ALPHA-VCH-1", None),
            (Method::POST, "/v1/{tenant}/pos/vouchers/ALPHA-VCH-1/cancel", None),
            (Method::GET, "/v1/{tenant}/pos/transfers/{transfer}", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/floor-plan", None),
            (Method::GET, "/v1/{tenant}/pos/promotions", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/tip-payouts", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/combos", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/combos/hijack", Some(json!({"name": "x", "price_minor": 1, "slots": [{"id": "a", "name": "A", "options": [{"item_id": "sku-alpha-secret"}]}]}))),
            (Method::DELETE, "/v1/{tenant}/pos/outlets/{outlet}/combos/hijack", None),
            (Method::GET, "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}/modifiers", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}/modifiers", Some(json!({"groups": []}))),
            (Method::DELETE, "/v1/{tenant}/pos/promotions/alpha-promo", None),
            (Method::PUT, "/v1/{tenant}/pos/outlets/{outlet}/floor-plan", Some(json!({"tables": [{"code": "HIJACK", "area": "x", "seats": 1}]}))),
            (Method::GET, "/v1/{tenant}/pos/stock-alerts", None),
            (Method::GET, "/v1/{tenant}/pos/stock-alerts?outlet={outlet}", None),
            (Method::GET, "/v1/{tenant}/pos/orders/{cloud}", None),
            (Method::POST, "/v1/{tenant}/pos/transfers", Some(json!({"from_outlet": "alpha-cbd", "to_outlet": "alpha-cbd", "lines": [{"item_id": "sku-alpha-secret", "quantity": 1}]}))),
        ];
        let mut tried = 0;
        for (method, template, body) in &routes {
            for tenant in ["alpha", "bravo"] {
                let mut path = template.replace("{tenant}", tenant)
                    .replace("{intent}", &intent_id.to_string())
                    .replace("{webhook}", &webhook_id)
                    .replace("{delivery}", &delivery_id.to_string())
                    .replace("{cloud}", &cloud_order_id)
                    .replace("{transfer}", &transfer_id.to_string());
                for (placeholder, value) in &ids {
                    path = path.replace(placeholder, value);
                }
                let (status, text) = call(method.clone(), path.clone(), bravo.clone(), body.clone()).await;
                tried += 1;
                // Bravo's own lists answer, empty of alpha; everything else is not found.
                let is_list = tenant == "bravo" && *method == Method::GET
                    && ["/pos/orders", "/integrations/events", "/pos/devices", "/pos/webhooks", "/pos/webhooks/deliveries", "/pos/sync/devices", "/pos/offline-event-replay", "/pos/audit-log", "/pos/stock-alerts", "/pos/promotions", "/pos/outlets"]
                        .iter().any(|suffix| path.ends_with(suffix));
                // A body naming alpha's outlets is, to bravo, a body naming outlets it does not
                // have: a validation error, and nothing is created.
                let names_unknown_outlets = tenant == "bravo" && *method == Method::POST && path.ends_with("/pos/transfers");
                if is_list {
                    assert_eq!(status, 200, "{method} {path}: {text}");
                } else if names_unknown_outlets {
                    assert_eq!(status, 400, "{method} {path}: {text}");
                } else {
                    assert_eq!(status, 404, "{method} {path}: {text}");
                }
                for secret in &secrets {
                    assert!(!text.contains(secret.as_str()), "{method} {path} leaked {secret}: {text}");
                }
            }
        }
        assert_eq!(tried, routes.len() * 2);
        // Nothing of alpha's changed.
        assert_eq!(snapshot(&pool, alpha_id).await, before);
        // And alpha still sees all of it.
        let (status, text) = call(Method::GET, format!("/v1/alpha/pos/orders/{order_id}"), alpha.clone(), None).await;
        assert_eq!(status, 200, "{text}");
    });
}

/// Every row of alpha's in the tables the routes touch, as text.
async fn snapshot(pool: &sqlx::PgPool, tenant: Uuid) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "catalog_items",
        "price_books",
        "outlet_configs",
        "outlet_staff",
        "devices",
        "enrollment_codes",
        "outlets",
        "orders",
        "payment_intents",
        "webhook_endpoints",
        "outlet_feed",
        "cloud_orders",
        "offline_event_replay",
        "gift_cards",
        "gift_card_ledger",
        "treasury_refunds",
        "audit_log",
        "order_chargebacks",
        "lan_devices",
        "stock_transfers",
        "stock_alerts",
        "deliveries",
        "service_calls",
        "outlet_docs",
        "order_docs",
        "promotions",
        "item_modifiers",
        "tip_payouts",
        "combos",
        "loyalty_programs",
        "loyalty_members",
        "loyalty_ledger",
        "vouchers",
        "day_reports",
        "staff_sessions",
        "gift_card_holds",
        "promotion_uses",
        "tip_payouts_in_cash",
    ] {
        let dump: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM {table} t WHERE tenant_id = $1"
        )))
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap();
        rows.push(format!("{table}: {}", dump.unwrap_or_default()));
    }
    rows
}
