# Run by `gitlab-rails runner`: reads the wanted application as JSON on stdin, then creates or
# corrects it, and destroys every other application with the same name (destroying revokes its
# tokens). Prints what it did, never the secret.
require 'json'

wanted = JSON.parse($stdin.read)
applications = Doorkeeper::Application

app = applications.find_by(uid: wanted.fetch('uid')) || applications.new(uid: wanted.fetch('uid'))
action = app.persisted? ? 'unchanged' : 'created'
{ 'name' => wanted.fetch('name'), 'redirect_uri' => wanted.fetch('redirect_uri'), 'scopes' => wanted.fetch('scopes') }.each do |field, value|
  next if app.public_send(field).to_s == value

  app.public_send("#{field}=", value)
  action = 'updated' if action == 'unchanged'
end
unless app.persisted? && app.secret_matches?(wanted.fetch('secret'))
  Doorkeeper.config.application_secret_strategy.store_secret(app, :secret, wanted.fetch('secret'))
  action = 'updated' if action == 'unchanged'
end
app.save! if app.changed?

stale = []
if wanted.fetch('revoke_others', true)
  stale = applications.where(name: wanted.fetch('name')).where.not(uid: wanted.fetch('uid')).to_a
  stale.each(&:destroy!)
end

puts "oauth application #{app.uid}: #{action}; revoked #{stale.length} other application(s) named #{wanted.fetch('name').inspect}"
