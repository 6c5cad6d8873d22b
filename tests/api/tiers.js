// Tiers and the paywall marker through Ghost's official Content API client
// (@tryghost/content-api). Run by crates/masthead/tests/site/tiers.rs against
// a site with a paid tier "Gold plus" (500 a month, two benefits) and a
// published story "Gold only" open to it, whose body has the marker.
'use strict';

const GhostContentAPI = require('@tryghost/content-api');
const { ok, eq, run } = require('./check.js');

const url = process.env.MASTHEAD_URL;
const key = process.env.MASTHEAD_KEY;
if (!url || !key) {
  console.error('MASTHEAD_URL and MASTHEAD_KEY must be set');
  process.exit(2);
}
const api = new GhostContentAPI({ url, key, version: 'v5.0' });

async function main() {
  const plain = await api.tiers.browse();
  eq(plain.length, 2, 'the free tier and one paid tier');
  eq(plain[0].type, 'free', 'the free tier first');
  ok(!('monthly_price' in plain[1]) && !('benefits' in plain[1]), 'prices and benefits only when included', plain[1]);

  const tiers = await api.tiers.browse({ include: 'monthly_price,yearly_price,benefits' });
  const gold = tiers.find((t) => t.slug === 'gold');
  ok(gold, 'the paid tier', tiers);
  eq(gold.name, 'Gold plus', 'its name');
  eq(gold.type, 'paid', 'its type');
  eq(gold.visibility, 'public', 'its visibility');
  eq(gold.active, true, 'active');
  eq(gold.monthly_price, 500, 'the monthly price in cents');
  eq(gold.yearly_price, null, 'no yearly price');
  eq(gold.currency, 'usd', 'the currency');
  eq(gold.trial_days, 7, 'the trial');
  eq(JSON.stringify(gold.benefits), JSON.stringify(['Every story', 'The weekly letter']), 'benefits in order');
  const free = tiers.find((t) => t.type === 'free');
  eq(free.monthly_price, null, 'the free tier has no price');

  const paidOnly = await api.tiers.browse({ filter: 'type:paid' });
  eq(paidOnly.length, 1, 'filter by type');

  const post = await api.posts.read({ slug: 'gold-only' }, { formats: 'html,plaintext', include: 'tiers' });
  eq(post.visibility, 'tiers', 'visibility');
  eq(post.access, false, 'no access without a member');
  eq(post.html, '<p>Free words.</p>', 'html cut at the marker');
  ok(!post.plaintext.includes('Gold words'), 'plaintext cut too', post.plaintext);
  eq(post.tiers.length, 1, 'open to one tier');
  eq(post.tiers[0].slug, 'gold', 'the tier it is open to');
}

run(main);
