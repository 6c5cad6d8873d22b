// Paying and comped members through Ghost's official Admin API client
// (@tryghost/admin-api). Run by crates/masthead/tests/site/transfer.rs
// against a site that imported crates/masthead/tests/fixtures/ghost-5-paid.json.
'use strict';

const GhostAdminAPI = require('@tryghost/admin-api');
const { ok, eq, run } = require('./check.js');

const url = process.env.MASTHEAD_URL;
const key = process.env.MASTHEAD_ADMIN_KEY;
if (!url || !key) {
  console.error('MASTHEAD_URL and MASTHEAD_ADMIN_KEY must be set');
  process.exit(2);
}
const api = new GhostAdminAPI({ url, key, version: 'v5.0' });

async function main() {
  const members = await api.members.browse({ limit: 'all' });
  eq(members.length, 4, 'the four imported members');
  const by = (email) => members.find((m) => m.email === email);

  const alda = by('alda.skipper@example.net');
  ok(alda, 'the paying member', members.map((m) => m.email));
  eq(alda.status, 'paid', 'status');
  eq(alda.comped, false, 'not comped');
  eq(alda.tiers.length, 1, 'one tier');
  eq(alda.tiers[0].slug, 'harbour-pass', 'the tier of the subscription');
  eq(alda.tiers[0].type, 'paid', 'a paid tier');
  eq(alda.tiers[0].active, true, 'active tier');
  eq(alda.subscriptions.length, 1, 'one subscription');
  const sub = alda.subscriptions[0];
  eq(sub.id, 'sub_AldaHarbour1', 'the Stripe subscription id');
  eq(sub.status, 'active', 'its status');
  eq(sub.customer.id, 'cus_AldaP3x9', 'its customer');
  eq(sub.customer.email, 'alda.skipper@example.net', "the customer's address");
  eq(sub.customer.name, 'Alda Rennick', "the customer's name");
  eq(sub.cancel_at_period_end, false, 'renews');
  ok(sub.current_period_end.startsWith('2030-05-03'), 'period end', sub.current_period_end);
  ok(sub.start_date.startsWith('2023-12-03'), 'start date', sub.start_date);
  eq(sub.default_payment_card_last4, null, 'no card digits kept');
  eq(sub.price.price_id, 'price_HarbourM600', 'its price');
  eq(sub.price.amount, 600, 'the amount in cents');
  eq(sub.price.interval, 'month', 'monthly');
  eq(sub.price.type, 'recurring', 'recurring');
  eq(sub.price.currency, 'USD', 'the currency');
  eq(sub.price.tier.tier_id, alda.tiers[0].id, "the price's tier");
  eq(sub.tier.id, alda.tiers[0].id, 'the subscription names its tier');
  eq(sub.offer, null, 'no offer');

  const joss = by('joss.pilot@example.net');
  eq(joss.status, 'comped', 'the comped member');
  eq(joss.comped, true, 'comped flag');
  eq(joss.subscriptions.length, 0, 'a comp is no subscription');
  eq(joss.tiers.length, 1, 'the comp tier');
  eq(joss.tiers[0].slug, 'skippers-circle', 'which tier');
  ok(String(joss.tiers[0].expiry_at).startsWith('2031-06-30'), 'the comp ends', joss.tiers[0]);

  const rue = by('rue.deckhand@example.net');
  eq(rue.status, 'free', 'a cancelled subscriber is free');
  eq(rue.tiers.length, 0, 'no tier');
  eq(rue.subscriptions.length, 1, 'the ended subscription is still listed');
  eq(rue.subscriptions[0].status, 'canceled', 'as canceled');

  const ferry = by('ferry.regular@example.net');
  eq(ferry.status, 'paid', 'yearly subscriber');
  eq(ferry.subscriptions[0].cancel_at_period_end, true, 'cancelling at period end');
  eq(ferry.subscriptions[0].price.interval, 'year', 'yearly');

  const one = await api.members.read({ id: alda.id });
  eq(one.subscriptions.length, 1, 'read shows subscriptions too');
}

run(main);
