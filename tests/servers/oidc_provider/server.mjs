// node oidc-provider as a conformance test server (started by tests/servers/oidc_provider.py).
//
// Usage: node server.mjs PORT 'SETTINGS_JSON'
// SETTINGS_JSON: {"rotateRefreshToken": true | false | "default",
//                 "ttl": {"RefreshToken": s, "Grant": s, "AccessToken": s, "Session": s}}
// Missing entries keep oidc-provider's defaults ("default" rotation is the library's own function).
//
// Logins go through the provider's real authorization endpoint and interaction flow: the client (the
// test, over HTTP) sends GET /auth?...&login_hint=USER, this script's interaction endpoint finishes the
// login for USER and grants the requested scopes (openid offline_access) through the provider's own API
// (interactionDetails, Grant, interactionFinished), the client follows the redirects to the code and
// exchanges it at the token endpoint. Storage is an in-memory adapter that never evicts (the library's
// MemoryAdapter is an LRU of 1,000 entries, which a long test run would overflow).
import Provider from 'oidc-provider';

const [port, settingsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson || '{}');
const issuer = `http://127.0.0.1:${port}`;

const stores = new Map();
function store(name) {
  if (!stores.has(name)) stores.set(name, new Map());
  return stores.get(name);
}

class MapAdapter {
  constructor(name) { this.name = name; this.items = store(name); }

  async upsert(id, payload, expiresIn) {
    this.items.set(id, { ...payload });
    if (payload.grantId) {
      const grants = store('grant-index');
      const key = `${this.name}:${id}`;
      const members = grants.get(payload.grantId) || new Set();
      members.add(key);
      grants.set(payload.grantId, members);
    }
    if (payload.uid) store('uid-index').set(payload.uid, id);
    if (payload.userCode) store('usercode-index').set(payload.userCode, id);
  }

  async find(id) { const found = this.items.get(id); return found ? { ...found } : undefined; }

  async findByUid(uid) {
    const id = store('uid-index').get(uid);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = store('usercode-index').get(userCode);
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    const found = this.items.get(id);
    if (found) found.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.items.delete(id); }

  async revokeByGrantId(grantId) {
    const members = store('grant-index').get(grantId);
    if (!members) return;
    for (const key of members) {
      const [model, ...rest] = key.split(':');
      store(model).delete(rest.join(':'));
    }
    store('grant-index').delete(grantId);
  }
}

const configuration = {
  adapter: MapAdapter,
  clients: [{
    client_id: 'tokensim-client',
    client_secret: 'tokensim-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  cookies: { keys: ['tokensim-conformance-cookie-key'] },
  features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  scopes: ['openid', 'offline_access'],
  ttl: {},
  pkce: { required: () => false },
};
if (settings.rotateRefreshToken === true || settings.rotateRefreshToken === false) {
  configuration.rotateRefreshToken = settings.rotateRefreshToken;
}
for (const [name, seconds] of Object.entries(settings.ttl || {})) {
  configuration.ttl[name] = seconds;
}
// Keep the library's own defaults for the TTLs the test does not set (setting `ttl` replaces the object).
const defaults = { AccessToken: 3600, AuthorizationCode: 60, Grant: 1209600, IdToken: 3600,
  Interaction: 3600, RefreshToken: 1209600, Session: 1209600 };
for (const [name, seconds] of Object.entries(defaults)) {
  if (!(name in configuration.ttl)) configuration.ttl[name] = seconds;
}

const provider = new Provider(issuer, configuration);
provider.proxy = false;

provider.use(async (ctx, next) => {
  const match = ctx.method === 'GET' && ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: String(details.params.login_hint) } };
  } else {
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details.missingOIDCScope;
    if (missing) grant.addOIDCScope(missing.join(' '));
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.respond = false;
  return undefined;
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
