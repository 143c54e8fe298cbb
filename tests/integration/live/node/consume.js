// A subscriber written as RabbitMQ's publish/subscribe tutorial writes one: a server-named exclusive queue bound to
// the fanout exchange. It prints "ready" once bound, then the first event it gets, and exits; it gives up after
// TIMEOUT_S seconds.
// usage: node consume.js AMQP_URL EXCHANGE TIMEOUT_S
const amqp = require('amqplib');

async function main() {
  const [url, exchange, timeoutS] = process.argv.slice(2);
  const connection = await amqp.connect(url);
  const timer = setTimeout(() => {
    console.error(`consume.js: no event within ${timeoutS} s`);
    process.exit(2);
  }, Number(timeoutS) * 1000);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'fanout', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '');
  console.log('ready');
  await channel.consume(queue, async (message) => {
    console.log(message.content.toString());
    clearTimeout(timer);
    await connection.close();
  }, { noAck: true });
}

main().catch((error) => {
  console.error(`consume.js: ${error.message}`);
  process.exit(1);
});
