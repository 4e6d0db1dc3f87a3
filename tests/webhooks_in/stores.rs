//! The store plugins (Stripe, Shopify, WooCommerce, Paddle) loaded by the real daemon, fed
//! their stores' documented payloads signed with a test secret.
