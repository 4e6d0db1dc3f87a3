//! The store plugins (Stripe, Shopify, WooCommerce, Paddle) loaded by the real daemon.
