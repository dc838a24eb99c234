// A real Bluesky PDS for dissem's tests (tests/pds/server.py starts it; issue 9).
//
// @atproto/dev-env's TestNetworkNoAppView runs the PDS of @atproto/pds beside an in-memory
// PLC directory (@did-plc/server with Database.mock()), as Bluesky's own tests do:
// github bluesky-social/atproto packages/dev-env/src/network-no-appview.ts, pds.ts, plc.ts.
// No AppView: app.bsky.* reads are proxied to an address that does not exist, so tests read
// records back with com.atproto.repo.getRecord / listRecords, which the PDS serves itself.
//
// Every server listens on 127.0.0.1 only: express's app.listen(port) (PDS.start, PLC)
// names no host, so net.Server.listen gets one here before any of them starts.
//
// Prints one JSON line on stdout once the account exists:
//   {"url", "handle", "did", "password", "app_password"}
// then runs until its standard input closes or it gets SIGTERM/SIGINT, and shuts down.
import { randomBytes } from 'node:crypto'
import net from 'node:net'

const HOST = '127.0.0.1'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const [first] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, HOST)
  } else if (first && typeof first === 'object' && !('path' in first) && !first.host) {
    args[0] = { ...first, host: HOST }
  }
  return listen.apply(this, args)
}

const { TestNetworkNoAppView } = await import('@atproto/dev-env')

const network = await TestNetworkNoAppView.create({})
const port = network.pds.port
const handle = `dissem${randomBytes(3).toString('hex')}.test`
const password = randomBytes(18).toString('base64url')
const agent = network.pds.getAgent()
await agent.createAccount({ handle, password, email: `${handle}@example.com` })
const appPassword = await agent.com.atproto.server.createAppPassword({ name: 'dissem-tests' })

process.stdout.write(
  JSON.stringify({
    url: `http://${HOST}:${port}`,
    handle,
    did: agent.session.did,
    password,
    app_password: appPassword.data.password,
  }) + '\n',
)

let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  try {
    await network.close()
  } finally {
    process.exit(0)
  }
}
process.stdin.on('end', shutdown)
process.stdin.on('error', shutdown)
process.stdin.resume()
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
