// A real OpenID Connect provider for natter's SSO tests: the certified `oidc-provider` library
// on a loopback port, with one fixed person and a login that needs no browser.
//
// Environment:
//   REDIRECT_URI   natter's callback URL, registered for both clients (required)
//   CLIENT_ID      natter's client (default "natter"); CLIENT_SECRET its secret
//
// Prints "issuer http://127.0.0.1:<port>" on stdout once it accepts requests.
//
// Login and consent are not pages: /interaction/<uid> signs the fixed person in and grants
// what was asked at once (devInteractions is off, so these are our own interaction
// endpoints), which lets a plain HTTP client with a cookie jar follow the whole flow.
//
// Test controls (POST, JSON body):
//   /__test/user    {"email": ..., "email_verified": ..., "name": ...}  who signs in next
//   /__test/tamper  {"id_token_aud": "other-client"} or {}  re-sign every ID token the token
//                   endpoint issues for another audience, with the provider's own key: what
//                   a token meant for another application looks like.

import { generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const redirectUri = process.env.REDIRECT_URI;
if (!redirectUri) {
  console.error('REDIRECT_URI is required');
  process.exit(2);
}
const clientId = process.env.CLIENT_ID ?? 'natter';
const clientSecret = process.env.CLIENT_SECRET ?? 'natter-test-secret';

// Listen first: the issuer identifier must carry the port the system gives us.
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// A fresh signing key per run; natter reads its public half from the JWKS endpoint.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

// The one person this provider knows; the test may change their claims.
const person = {
  sub: 'person-1',
  email: 'ann@example.com',
  email_verified: true,
  name: 'Ann Example',
};
let tamper = {};

const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [client(clientId, clientSecret), client('other-client', 'other-secret')],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['natter-test-cookie-key'] },
  // PKCE for every client, not only public ones: natter always sends S256.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(_ctx, sub) {
    if (sub !== person.sub) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...person };
      },
    };
  },
});

// Re-signs a compact JWS after changing its payload.
function resign(jwt, change) {
  const [header, payload] = jwt.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url')), ...change };
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${sign('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && tamper.id_token_aud && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, { aud: tamper.id_token_aud }) };
  }
});

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

// Signs the fixed person in and grants whatever the client asked for.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: person.sub } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }
  res.writeHead(400, { 'content-type': 'text/plain' }).end(`unexpected prompt ${prompt.name}`);
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const path = new URL(req.url, issuer).pathname;
    if (path.startsWith('/interaction/')) {
      await interaction(req, res);
    } else if (req.method === 'POST' && path === '/__test/user') {
      Object.assign(person, await readJson(req));
      res.writeHead(204).end();
    } else if (req.method === 'POST' && path === '/__test/tamper') {
      tamper = await readJson(req);
      res.writeHead(204).end();
    } else {
      callback(req, res);
    }
  } catch (error) {
    console.error(error);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error));
  }
});

console.log(`issuer ${issuer}`);
