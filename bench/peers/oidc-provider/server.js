// node-oidc-provider configured as the load-test peer of Portcullis.
//
// Started by bench/run.py (never by hand in a benchmark), bound to 127.0.0.1 only:
//
//   node server.js --port 9300 --format opaque   # opaque access tokens (in memory)
//   node server.js --port 9301 --format jwt      # JWT access tokens via resource indicators
//
// What it enables, and why (see bench/README.md, "The peer"):
// - one confidential client `bench` (client_secret_basic) allowed client_credentials,
//   authorization_code and refresh_token, scopes `a b`;
// - introspection and revocation (RFC 7662 / RFC 7009);
// - the `jwt` format turns on `resourceIndicators`: a client_credentials request with
//   `resource=urn:bench:es256|hs256|eddsa` gets an RFC 9068 JWT access token signed with that
//   algorithm (that is the only way oidc-provider issues JWT access tokens; without a resource
//   it keeps issuing opaque ones). oidc-provider refuses to introspect or revoke JWTs
//   ("Structured JWT Tokens cannot be introspected"), so JWT introspection has no peer figure;
// - an in-memory adapter of its own (below) instead of the bundled MemoryAdapter, whose
//   1000-entry LRU silently evicts tokens under load (turning introspection, revocation and
//   refresh into "unknown token" answers) and whose grant index costs O(tokens of the grant)
//   per insert. Tokens stay in memory only, as the issue describes the peer;
// - refresh tokens are rotated on every use (rotateRefreshToken: true) and issued to every
//   authorization_code exchange of a client allowed the refresh_token grant;
// - the development login/consent pages (devInteractions) stay on: bench/run.py logs in once
//   through them, then mints authorization codes on that session without interaction;
// - GET /healthz answers 200 "ok" from a Koa middleware in front of the provider: the HTTP
//   floor of node + Koa, measured like Portcullis's /healthz.
import * as crypto from 'node:crypto';
import process from 'node:process';

import Provider from 'oidc-provider';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', '9300'));
const format = arg('format', 'opaque');
if (!['opaque', 'jwt'].includes(format)) {
  console.error(`--format must be opaque or jwt, not ${format}`);
  process.exit(2);
}
const clientSecret = process.env.BENCH_PEER_CLIENT_SECRET || 'bench-peer-secret-0123456789abcdef';
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;

// Storage: an in-memory adapter written for the benchmark. The bundled MemoryAdapter keeps at most
// 1000 entries (an LRU: under load it evicts live tokens, sessions and grants), and it keeps a
// per-grant index whose every update walks all of the grant's tokens (Math.max over the members),
// so one busy grant makes each token insert O(tokens issued so far). This adapter has the same
// semantics (find, upsert, consume, destroy, findByUid, findByUserCode, revokeByGrantId) with
// expiry, no size limit and O(1) index updates.
const entries = new Map(); // key -> { value, expiry }
const grantMembers = new Map(); // grantId -> Set of keys
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

function get(key) {
  const entry = entries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiry !== undefined && entry.expiry <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.value;
}

function set(key, value, expiresIn) {
  const expiry = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
  entries.set(key, { value, expiry });
}

class BenchAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) set(`userCode:${payload.userCode}`, id, expiresIn);
    if (grantable.has(this.model) && payload.grantId) {
      let members = grantMembers.get(payload.grantId);
      if (!members) grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    set(key, payload, expiresIn);
  }

  async find(id) {
    return get(this.key(id));
  }

  async findByUid(uid) {
    const id = get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = get(key);
    entries.delete(key);
    if (payload?.grantId) grantMembers.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    const members = grantMembers.get(grantId);
    if (!members) return;
    for (const key of members) entries.delete(key);
    grantMembers.delete(grantId);
  }
}

// Expired entries go once a minute (reads also drop them), and so do index entries for them.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of entries) {
    if (entry.expiry !== undefined && entry.expiry <= now) entries.delete(key);
  }
  for (const [grantId, members] of grantMembers) {
    for (const key of members) if (!entries.has(key)) members.delete(key);
    if (members.size === 0) grantMembers.delete(grantId);
  }
}, 60_000).unref();

function jwk(type, options) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return privateKey.export({ format: 'jwk' });
}

const keys = [
  { ...jwk('rsa', { modulusLength: 2048 }), use: 'sig', alg: 'RS256', kid: 'rs256' },
  { ...jwk('ec', { namedCurve: 'P-256' }), use: 'sig', alg: 'ES256', kid: 'es256' },
  { ...jwk('ed25519'), use: 'sig', alg: 'EdDSA', kid: 'eddsa' },
];
const hs256Key = crypto.randomBytes(32);

const resourceServers = {
  'urn:bench:es256': { jwt: { sign: { alg: 'ES256' } } },
  'urn:bench:hs256': { jwt: { sign: { alg: 'HS256', key: hs256Key } } },
  'urn:bench:eddsa': { jwt: { sign: { alg: 'EdDSA' } } },
};

const configuration = {
  adapter: BenchAdapter,
  clients: [
    {
      client_id: 'bench',
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      scope: 'a b',
    },
  ],
  jwks: { keys },
  scopes: ['a', 'b'],
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  pkce: { required: () => false },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  enabledJWA: {
    // EdDSA is not in the default list of algorithms; the JWT access tokens use it.
    idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA', 'HS256'],
  },
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    AuthorizationCode: 600,
    RefreshToken: 14 * 24 * 3600,
  },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
    ...(format === 'jwt'
      ? {
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx, _client, oneOf) => oneOf,
          useGrantedResource: async () => false,
          getResourceServerInfo: async (_ctx, resourceIndicator) => {
            const server = resourceServers[resourceIndicator];
            if (!server) throw new Provider.errors.InvalidTarget();
            return {
              scope: 'a b',
              audience: resourceIndicator,
              accessTokenTTL: 3600,
              accessTokenFormat: 'jwt',
              ...server,
            };
          },
        },
      }
      : { resourceIndicators: { enabled: false } }),
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// The HTTP floor, answered before the provider's own middleware runs.
provider.middleware.unshift(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/healthz') {
    ctx.status = 200;
    ctx.body = 'ok';
    return undefined;
  }
  return next();
});

const server = provider.listen(port, host, () => {
  console.log(`oidc-provider (${format}) listening on ${issuer}`);
});
server.keepAliveTimeout = 75_000;
server.headersTimeout = 80_000;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
