// A real OpenID provider for the browser tests: the npm `oidc-provider` with its development
// login form, PKCE required, a confidential client for Kindbrug, and accounts whose ID tokens
// carry Kindbrug's `org` and `roles` claims (scope `kindbrug`).
import Provider from 'oidc-provider';

/** Starts the provider on `port`; `accounts` maps a login name to its `{ org, roles }`. */
export async function startProvider(port, { redirectBase, accounts }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'kindbrug',
      client_secret: 'kindbrug-test-secret',
      redirect_uris: [`${redirectBase()}/inloggen/terug`],
      post_logout_redirect_uris: [`${redirectBase()}/inloggen`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'kindbrug'],
    claims: { openid: ['sub'], kindbrug: ['org', 'roles'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['kindbrug-browser-test-cookie-key'] },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account() }) };
    },
  });
  provider.proxy = false;
  const server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return { issuer, close: () => new Promise((r) => server.close(r)) };
}
