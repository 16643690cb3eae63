<?php
// events.php: GatewayWorker's Events.php for wsfleet's -webhook, with
// nothing but PHP's standard library (docs/webhook.md is the contract).
//
//   EVENTS_SECRET=change-me php -S 127.0.0.1:8000 events.php
//   wsfleet master start -app none -webhook http://127.0.0.1:8000/
//
// A client connects to ws://host:8080/?user=alice&token=T, where T is
// hash_hmac('sha256', 'alice', EVENTS_SECRET): the web app that serves the
// page computes it for its logged-in user. Then:
//   "join R"        joins room R
//   "room R text"   sends "alice: text" to everyone in room R
//   anything else   is answered "hello <message>"
//
// With wsfleet's -webhook-secret-file, set WEBHOOK_SECRET to the same key:
// requests whose X-Wsfleet-Signature does not match are refused.

declare(strict_types=1);

$secret = getenv('EVENTS_SECRET') ?: 'change-me';
$webhookSecret = getenv('WEBHOOK_SECRET') ?: '';

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    exit;
}
$body = file_get_contents('php://input');
if ($webhookSecret !== '') {
    $want = 'sha256=' . hash_hmac('sha256', $body, trim($webhookSecret));
    if (!hash_equals($want, $_SERVER['HTTP_X_WSFLEET_SIGNATURE'] ?? '')) {
        http_response_code(401); // wsfleet counts it a failure: an open is closed with 1011
        exit;
    }
}
$ev = json_decode($body, true);
if (!is_array($ev)) {
    http_response_code(400);
    exit;
}

/** Answers the event with commands for its connection (or nothing: 204). */
function answer(array $commands): void
{
    if ($commands === []) {
        http_response_code(204);
        return;
    }
    header('Content-Type: application/json');
    echo json_encode($commands);
}

switch ($ev['event']) {
case 'open':
    $user = $ev['query']['user'][0] ?? '';
    $token = $ev['query']['token'][0] ?? '';
    if ($user === '' || !hash_equals(hash_hmac('sha256', $user, $secret), $token)) {
        answer(['refuse' => ['code' => 4003, 'reason' => 'bad token']]);
        break;
    }
    error_log("open {$ev['conn']} user=$user from {$ev['remote']}");
    answer(['bind' => $user, 'reply' => "welcome $user"]);
    break;

case 'message':
    $data = $ev['data'];
    if (!empty($ev['binary'])) {
        $data = base64_decode($data);
    }
    if (preg_match('/^join (\S+)$/', $data, $m)) {
        answer(['join' => [$m[1]], 'reply' => "joined {$m[1]}"]);
    } elseif (preg_match('/^room (\S+) (.*)$/s', $data, $m)) {
        // uid is the user bound at open; anything else the backend needs
        // to remember about a connection it keeps by $ev['conn'].
        answer(['publish' => ['room' => $m[1], 'data' => "{$ev['uid']}: {$m[2]}"]]);
    } else {
        answer(['reply' => "hello $data"]);
    }
    break;

case 'close':
    error_log("close {$ev['conn']} code={$ev['code']} user=" . ($ev['uid'] ?? ''));
    answer([]);
    break;

default:
    http_response_code(400);
}
