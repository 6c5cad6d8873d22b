// Masthead real-browser test for paid memberships (issue 11, item 10): a reader
// goes from "Subscribe" to Stripe Checkout and, once Stripe's signed events have
// arrived, reads a story for paying members in full.
//
// Not run on its own: run.js requires this module and passes its harness. The
// suite's server is pointed (MASTHEAD_STRIPE_API_BASE) at a real, stateful
// Stripe-API server: localstripe, run by crates/masthead/tests/fixtures/
// stripe_server.py, which also stands in for the two calls localstripe lacks
// (Checkout Sessions and the billing portal: it records what Masthead sent and
// answers with a session `url`) and signs the events localstripe never sends
// (checkout.session.completed) with the official `stripe` library's helper.
//
// Checkout itself is Stripe's page on Stripe's domain, which the test machine
// cannot reach: the test sees the browser leave for it, then does what Stripe
// does after a payment: the subscription is made in localstripe (whose own
// signed webhook reaches Masthead), checkout.session.completed is signed and
// delivered, and the reader is sent back to the success URL.
'use strict';

module.exports = function registerStripeTests(h) {
  const { test, assert, assertEq, Failure, unique, server, stripe, get, runCli, openPage, goto, closeQuietly } = h;
  const { nextMail, linkAndCode, adminToken } = h;

  const BODY = '<p>The ferry company filed its accounts on Monday.</p>'
    + '<p>Passenger numbers rose for a third year.</p>'
    + '<!--members-only-->'
    + '<p>The accounts show the winter timetable loses money on every crossing.</p>';
  const SECRET = 'loses money on every crossing';

  async function stripeApi(method, pathname, form) {
    const r = await fetch(`${stripe.base}${pathname}`, {
      method,
      headers: { Authorization: `Bearer ${stripe.key}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    const body = await r.json();
    if (!r.ok) throw new Failure(`${method} ${pathname}: ${r.status}`, [JSON.stringify(body)]);
    return body;
  }

  async function adminApi(key, method, pathname, json) {
    const r = await fetch(`${server.base}/ghost/api/admin${pathname}`, {
      method,
      headers: { Authorization: `Ghost ${adminToken(key)}`, 'Content-Type': 'application/json', 'Accept-Version': 'v5.0' },
      body: JSON.stringify(json),
    });
    const body = await r.json();
    if (!r.ok) throw new Failure(`Admin API ${method} ${pathname}: ${r.status}`, [JSON.stringify(body).slice(0, 1500)]);
    return body;
  }

  test('A reader subscribes through Checkout and, once Stripe says so, reads a paid story in full', async () => {
    const u = unique();
    // The newsroom: Masthead's webhook registered in Stripe, a paid tier and a
    // story for paying members, through the Admin API (a key made with the CLI).
    const hook = await fetch(`${stripe.base}/_config/webhooks/masthead`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ url: `${server.base}/members/webhooks/stripe/`, secret: stripe.webhookSecret }).toString(),
    });
    assert(hook.ok, `registering the webhook in localstripe: ${hook.status}`);
    const key = await runCli(['key', 'create', 'admin', '--name', `Stripe browser test ${u}`]);
    const tier = (await adminApi(key, 'POST', '/tiers/', {
      tiers: [{ name: `Harbour Circle ${u}`, description: 'Every story, and our thanks', monthly_price: 600, yearly_price: 6000, currency: 'usd', visibility: 'public' }],
    })).tiers[0];
    const slug = `ferry-accounts-${u}`;
    await adminApi(key, 'POST', '/posts/?source=html', {
      posts: [{ title: 'Ferry accounts', slug, html: BODY, status: 'published', visibility: 'paid' }],
    });

    const ctx = await h.browser().newContext({ viewport: h.DESKTOP });
    let page = await openPage(ctx, 'subscribe');
    try {
      // A member, signed in by the link in their confirmation e-mail.
      const email = `payer.${u}@example.com`;
      await goto(page, '/join/');
      await page.fill('#join-email', email);
      await Promise.all([page.waitForURL(/\/members\/check\//), page.click('form[action="/join/"] [type=submit]')]);
      const { link } = linkAndCode(await nextMail(email));
      await Promise.all([page.waitForURL(/\/account\/\?welcome=1$/), page.goto(link)]);

      // The story: its free part and the invitation, not the rest.
      await goto(page, `/${slug}/`);
      let text = await page.textContent('main');
      assert(text.includes('third year') && !text.includes(SECRET), 'a free member reads the free part only', [text.slice(0, 800)]);

      // Subscribe: Masthead makes a Checkout Session and answers with a redirect
      // to Stripe's page. The browser follows it (so the page's form-action
      // policy lets it); Stripe's host is not reachable from the test machine,
      // and Playwright cannot stand in for a redirect's target, so the test
      // watches the request leave for Checkout and lets that load fail.
      await goto(page, '/subscribe/');
      const csp = (await get('/subscribe/')).headers.get('content-security-policy') || '';
      assert(/form-action 'self' https:\/\/checkout\.stripe\.com https:\/\/billing\.stripe\.com;/.test(csp),
        'the subscribe page lets its forms go on to Stripe, and only there', [csp]);
      const button = page.locator('section.member__offer', { hasText: tier.name }).locator('button', { hasText: 'a month' });
      assertEq(await button.count(), 1, 'the monthly Subscribe button for the tier');
      const toCheckout = page.waitForRequest((r) => r.url().startsWith('https://checkout.stripe.com/'), { timeout: 15_000 });
      await button.click({ noWaitAfter: true });
      const checkoutUrl = (await toCheckout).url();
      assert(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_/.test(checkoutUrl), `sent to Checkout, got ${checkoutUrl}`);

      // What Masthead asked Stripe for: a subscription Checkout for this member.
      const seen = await (await fetch(`${stripe.base}/_config/test/requests`)).json();
      const session = seen.sessions[seen.sessions.length - 1];
      const field = (k) => (session.form.find(([n]) => n === k) || [])[1];
      assertEq(field('mode'), 'subscription', 'Checkout mode');
      assertEq(field('customer_email'), email, 'Checkout customer_email');
      const memberId = field('metadata[member_id]');
      const plan = field('line_items[0][price]');
      assert(memberId && plan, 'the session names the member and a price', [JSON.stringify(session.form)]);

      // Stripe takes the payment: a customer and a subscription in localstripe
      // (its own signed customer.subscription.created reaches Masthead), then the
      // signed checkout.session.completed.
      const customer = await stripeApi('POST', '/v1/customers', {
        email, payment_method: 'pm_card_visa', 'invoice_settings[default_payment_method]': 'pm_card_visa',
      });
      const sub = await stripeApi('POST', '/v1/subscriptions', { customer: customer.id, 'items[0][plan]': plan });
      const event = JSON.stringify({
        id: `evt_browser_${u}`, object: 'event', type: 'checkout.session.completed', api_version: '2024-06-20',
        created: Math.floor(Date.now() / 1000),
        data: { object: {
          id: `cs_test_browser_${u}`, object: 'checkout.session', mode: 'subscription',
          customer: customer.id, subscription: sub.id, client_reference_id: memberId,
          customer_details: { email, name: 'Pat Payer' }, metadata: { member_id: memberId, tier: tier.slug },
        } },
      });
      const signed = await (await fetch(`${stripe.base}/_config/test/sign`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ payload: event, secret: stripe.webhookSecret }),
      })).json();
      const delivered = await fetch(`${server.base}/members/webhooks/stripe/`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signed.header }, body: event,
      });
      assertEq(delivered.status, 200, `webhook answer (${await delivered.text()})`);

      // Back from Stripe to the success URL, as Checkout sends the reader: in a
      // fresh tab of the same browser (the first one's failed load of Stripe's
      // unreachable page may still land and would interrupt a navigation).
      await closeQuietly(page);
      page = await openPage(ctx, 'subscribe-back');
      const success = field('success_url').replace('{CHECKOUT_SESSION_ID}', `cs_test_browser_${u}`);
      await page.goto(success);
      text = await page.textContent('main');
      assert(text.includes('Thank you'), 'the success page thanks the reader', [text.slice(0, 500)]);
      await goto(page, '/account/');
      text = await page.textContent('main');
      assert(text.includes(tier.name) && text.includes('6.00 USD a month'), 'the account shows the plan', [text.slice(0, 1200)]);
      assert(await page.locator('form[action="/account/billing"] button, a[href="/account/billing"]').count() > 0,
        'the account offers "Manage billing"');

      // Paying now: the story in full.
      await goto(page, `/${slug}/`);
      text = await page.textContent('main');
      assert(text.includes(SECRET), 'a paying member reads the whole story', [text.slice(0, 1200)]);
    } finally {
      await closeQuietly(page, ctx);
    }
  }, 90_000);
};
