<?php
// push.php: a PHP web app pushing to its users through wsfleet's HTTP API,
// with nothing but PHP's standard library (streams and json; no curl, no
// Composer package).
//
// In a web app: require this file and call, when an order ships,
//
//     wsfleet_publish(['user' => (string) $order->user_id, 'data' => 'order shipped']);
//
// From a shell (what the tests run):
//
//     WS_API=http://127.0.0.1:9090 WS_API_KEY_FILE=/etc/wsfleet/api.key \
//         php push.php user ann 'order shipped'
//
// WS_API is a host's -admin-listen address (any host of the cluster reaches
// every connection); WS_API_KEY_FILE holds its -api-key-file key.

declare(strict_types=1);

/**
 * Calls /api/$call with $body as JSON and returns the decoded answer.
 * Throws RuntimeException on a network error or an HTTP error, with the
 * server's {"error": "..."} message.
 */
function wsfleet_call(string $call, array $body = []): array
{
    $base = rtrim(getenv('WS_API') ?: 'http://127.0.0.1:9090', '/');
    $keyFile = getenv('WS_API_KEY_FILE') ?: '/etc/wsfleet/api.key';
    $key = trim((string) @file_get_contents($keyFile));
    if ($key === '') {
        throw new RuntimeException("wsfleet: no API key in $keyFile");
    }
    $ctx = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\nX-API-Key: $key\r\n",
        'content' => json_encode((object) $body, JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE),
        'timeout' => 5,           // seconds: a push never hangs the page
        'ignore_errors' => true,  // read the JSON body of a 4xx too
    ]]);
    $resp = @file_get_contents("$base/api/$call", false, $ctx);
    if ($resp === false || !isset($http_response_header[0])) {
        throw new RuntimeException("wsfleet: $base unreachable");
    }
    $status = (int) (explode(' ', $http_response_header[0])[1] ?? 0);
    $json = json_decode($resp, true);
    if ($status !== 200 || !is_array($json)) {
        $why = is_array($json) && isset($json['error']) ? $json['error'] : $resp;
        throw new RuntimeException("wsfleet: $call: HTTP $status: $why");
    }
    return $json;
}

/**
 * Sends a message: $to is ['user' => u] or ['room' => r] or ['conn' => id]
 * or [] for everyone, plus 'data' (text; with 'binary' => true, base64).
 */
function wsfleet_publish(array $msg): void
{
    wsfleet_call('publish', $msg);
}

/** Reports whether the user has a connection anywhere in the cluster. */
function wsfleet_online(string $user): bool
{
    return wsfleet_call('online', ['user' => $user])['online'];
}

// The command line: php push.php user|room|conn|all NAME MESSAGE.
if (PHP_SAPI === 'cli' && isset($argv[0]) && realpath($argv[0]) === __FILE__) {
    $kind = $argv[1] ?? '';
    if (!in_array($kind, ['user', 'room', 'conn', 'all'], true) || ($kind !== 'all' && count($argv) < 4)) {
        fwrite(STDERR, "usage: php push.php user|room|conn NAME MESSAGE | all MESSAGE\n");
        exit(2);
    }
    $msg = $kind === 'all' ? ['data' => $argv[2] ?? ''] : [$kind => $argv[2], 'data' => $argv[3]];
    try {
        wsfleet_publish($msg);
        if ($kind === 'user') {
            echo $argv[2], wsfleet_online($argv[2]) ? " is online: sent\n" : " is offline: nobody got it\n";
        } else {
            echo "sent\n";
        }
    } catch (RuntimeException $e) {
        fwrite(STDERR, $e->getMessage() . "\n");
        exit(1);
    }
}
