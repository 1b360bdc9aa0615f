-- How a cloud order's customer is told the order is ready: beside the phone number (carried to
-- the outlet), an email address and an app's push token kept at the hub only, and the channels
-- the customer chose, in order of preference (NULL: sms, then email, then push).
ALTER TABLE cloud_orders ADD COLUMN customer_email text;
ALTER TABLE cloud_orders ADD COLUMN customer_push_token text;
ALTER TABLE cloud_orders ADD COLUMN notify_by text[];
