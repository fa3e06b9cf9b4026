// A real OpenID provider (panva/node-oidc-provider) on loopback, for roo's OAuth sign-in tests.
//
//   node provider.mjs PORT            (or OIDC_PORT=PORT node provider.mjs)
//
// Environment:
//   OIDC_CLIENTS   JSON list of clients: [{"client_id", "client_secret", "redirect_uris": [...]}]
//   OIDC_ACCOUNTS  JSON object: account id (what the login form takes) -> claims, e.g.
//                  {"alice": {"email": "alice@example.test", "email_verified": true,
//                             "name": "Alice", "userinfo_only": false}}
//                  "userinfo_only": true keeps email/name out of the ID token (only the userinfo
//                  endpoint returns them), as conforming OpenID providers do by default.
//
// PKCE (S256) is required of every client; devInteractions serves plain HTML login and consent
// forms that the tests submit. Prints "ready <issuer>" once it listens on 127.0.0.1.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs PORT (or OIDC_PORT)');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  // Scope-requested claims go into the ID token too (as Google does), unless an account says
  // "userinfo_only".
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub', 'hd'], // `hd`: Google's Workspace domain claim
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims(use) {
        if (use === 'id_token' && account.userinfo_only) {
          return { sub: id };
        }
        const { userinfo_only: _ignored, ...claims } = account;
        return { sub: id, ...claims };
      },
    };
  },
});

// One line per request and per refused grant: the tests quote this log when a flow fails.
provider.use(async (ctx, next) => {
  await next();
  console.log(`${ctx.method} ${ctx.path} ${ctx.status}`);
});
provider.on('grant.error', (_ctx, err) => {
  console.log(`grant.error ${err.error || err.name}: ${err.error_description || err.message}`);
});
provider.on('server_error', (_ctx, err) => {
  console.log(`server_error ${err.stack || err}`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
